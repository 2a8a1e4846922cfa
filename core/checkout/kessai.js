/*
 * kessai.js: the buyer's checkout on a shop's page, served by kessaid at /kessai.js.
 *
 * The shop's back end creates the order with kessai's shop API (POST /api/v1/orders) and hands
 * the answer to the page. kessai.js loads the widget of the order's payment module, passes it
 * the order's payment, sends the widget's answer to the shop's back end, and tells the page
 * how it ended. The shop's back end adds the shop key, which never reaches the browser, and
 * forwards each call to kessai's POST /api/v1/orders/{id}/settlement/{result,cancelled,checkout}.
 *
 *   var pay = Kessai.checkout({
 *     endpoint: "/shop/orders/{id}/",          // kessai.js posts to {id}/result, /cancelled, /checkout
 *     onAuthorized: function (order) {},      // paid: show the order complete page
 *     onDeclined: function (reason, order) {},// NG: stay on the payment step, show reason
 *     onCancelled: function (order) {},       // the buyer closed the widget
 *     onError: function (message, detail) {}  // show message; detail is for the console
 *   });
 *   pay.start(order);  // the first time and again after NG, a closed widget or an error
 *
 * After onDeclined, onCancelled or onError the buyer may press the shop's button again:
 * start(order) asks the shop's back end for the order's checkout (a new attempt after NG)
 * and opens the widget with that payment. Every text a buyer may see is a Japanese sentence
 * of the table below, never a number of kessai's or the provider's.
 */
(function (window) {
  "use strict";

  var TEXT = {
    declined: "お支払いの審査の結果、このご注文にはご利用いただけませんでした。別のお支払い方法をお選びください。",
    widget: "お支払い画面でエラーが発生しました。時間をおいてもう一度お試しいただくか、別のお支払い方法をお選びください。",
    network: "通信できませんでした。通信環境をご確認のうえ、もう一度お試しください。",
    refused: "お支払いを確認できませんでした。もう一度お試しいただくか、別のお支払い方法をお選びください。",
    notAccepted: "このご注文は選択されたお支払い方法ではお受けできませんでした。別のお支払い方法をお選びください。",
    checking: "お支払いの結果を確認しています。二重のお支払いにならないよう、しばらくしてからご注文の状況をご確認ください。",
    changed: "ご注文のお支払い状況が変わりました。ページを再読み込みしてご確認ください。",
    unavailable: "ただいまお支払いを受け付けられません。時間をおいてもう一度お試しください。",
    unsupported: "このお支払い方法はこのページではご利用いただけません。別のお支払い方法をお選びください。"
  };

  // How long a widget may take to load before the buyer is told.
  var LOAD_TIMEOUT_MS = 20000;
  // A result kessai is still confirming is asked again this many times, waiting longer each time.
  var RESULT_TRIES = 8;

  var scripts = {};

  // loadScript loads a provider's script once per page.
  function loadScript(url) {
    if (scripts[url]) return scripts[url];
    scripts[url] = new Promise(function (resolve, reject) {
      var el = document.createElement("script");
      el.src = url;
      el.async = true;
      el.onload = function () { resolve(); };
      el.onerror = function () {
        delete scripts[url];
        reject(new Error("kessai.js: could not load " + url));
      };
      (document.head || document.documentElement).appendChild(el);
    });
    return scripts[url];
  }

  function timeout(p, ms, what) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error("kessai.js: " + what + " did not answer in " + ms + " ms")); }, ms);
      p.then(function (v) { clearTimeout(timer); resolve(v); }, function (e) { clearTimeout(timer); reject(e); });
    });
  }

  // Drivers run one provider's widget. open(config, events) opens it for one payment and
  // reports through events: succeeded(response), failed(response), cancelled(), and
  // error(detail), after which the widget still ends with cancelled.
  var drivers = {};

  // atone: one Atone.config per page, whose callbacks reach the payment in progress; each
  // later payment is merged in and synced, since production atone.js sends a second
  // config's payment nowhere (and throws without its callback).
  drivers.atone = (function () {
    var events = null;
    var ready = null; // Promise: atone.js loaded, configured and its form ready
    var loadedFrom = "";

    function on(name) {
      return function () {
        if (events && typeof events[name] === "function") events[name].apply(null, arguments);
      };
    }

    function configure(cfg) {
      loadedFrom = cfg.script_url;
      var load = window.Atone ? Promise.resolve() : loadScript(cfg.script_url);
      return timeout(load.then(function () {
        return new Promise(function (resolve) {
          window.Atone.config({
            pub_key: cfg.pub_key,
            pre_token: cfg.pre_token || "",
            payment: cfg.payment,
            authenticated: function () {},
            cancelled: on("cancelled"),
            failed: on("failed"),
            succeeded: on("succeeded"),
            error: function (name, message, errors) {
              on("error")({ name: name, message: message, errors: errors });
            }
          }, resolve);
        });
      }), LOAD_TIMEOUT_MS, "atone.js");
    }

    // send gives the widget this payment. merge copies one key per call, as production's does.
    function send(cfg) {
      window.Atone.merge({ pub_key: cfg.pub_key });
      window.Atone.merge({ pre_token: cfg.pre_token || "" });
      window.Atone.merge({ payment: cfg.payment });
      if (typeof window.Atone.sync === "function") {
        window.Atone.sync();
        return;
      }
      // An atone.js without sync (the 2017 one) sends the options to its form only after a
      // close; the form takes them as the same message atone.js would post.
      var frame = document.getElementById("authentication-form-iframe");
      if (frame && frame.contentWindow) {
        frame.contentWindow.postMessage({ pub_key: cfg.pub_key, pre_token: cfg.pre_token || "", payment: cfg.payment }, "*");
      }
    }

    return {
      open: function (cfg, ev) {
        events = ev;
        if (!ready) {
          ready = configure(cfg);
          ready.catch(function () { ready = null; });
          return ready.then(function () { window.Atone.start(); });
        }
        if (cfg.script_url !== loadedFrom) {
          return Promise.reject(new Error("kessai.js: this page runs atone.js from " + loadedFrom + ", not " + cfg.script_url));
        }
        return ready.then(function () {
          send(cfg);
          window.Atone.start();
        });
      },
      // Why atone declined (authorization_result_ng_reason), for the buyer.
      reasons: {
        "1": "ご利用可能金額を超えているため、atone ではお支払いいただけませんでした。別のお支払い方法をお選びください。",
        "9": "atone の審査の結果、このご注文にはご利用いただけませんでした。別のお支払い方法をお選びください。"
      }
    };
  })();

  function Checkout(opts) {
    opts = opts || {};
    if (opts.key || opts.apiKey || opts.shopKey) {
      throw new TypeError("kessai.js: the shop key stays on the shop's server; give kessai.js the back end's endpoint");
    }
    if (!opts.endpoint) throw new TypeError("kessai.js: Kessai.checkout needs endpoint, the shop back end's URL for an order");
    this.opts = opts;
    this.text = {};
    for (var k in TEXT) this.text[k] = (opts.messages && opts.messages[k]) || TEXT[k];
    this.used = {};      // orders whose first config was used: later starts ask for a fresh one
    this.busy = false;   // a widget is open or an answer is on its way
    this.current = null; // the payment in the widget
  }

  Checkout.prototype.url = function (id, step) {
    var e = this.opts.endpoint;
    if (typeof e === "function") return e(id, step);
    return e.replace("{id}", encodeURIComponent(id)) + step;
  };

  // post calls the shop's back end and resolves {status, body}; it rejects only when no
  // answer came.
  Checkout.prototype.post = function (id, step, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var extra = this.opts.headers || {};
    for (var h in extra) headers[h] = extra[h];
    return fetch(this.url(id, step), {
      method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().then(function (j) { return { status: res.status, body: j }; },
        function () { return { status: res.status, body: {} }; });
    });
  };

  Checkout.prototype.call = function (name) {
    var fn = this.opts[name];
    if (typeof fn === "function") {
      try {
        fn.apply(null, Array.prototype.slice.call(arguments, 1));
      } catch (e) {
        if (window.console) console.error("kessai.js: " + name + " threw", e);
      }
    }
  };

  // done ends payment s (or the start before any payment): the shop's button works again.
  // A late answer of an earlier payment leaves the one in the widget alone.
  Checkout.prototype.done = function (s) {
    if (!s || this.current === s) this.busy = false;
  };

  Checkout.prototype.fail = function (message, detail, s) {
    this.done(s);
    if (detail && window.console) console.warn("kessai.js:", detail);
    this.call("onError", message, detail);
  };

  function statusOf(order) {
    return (order && order.settlement && order.settlement.status) || "";
  }

  function paid(order) {
    var s = statusOf(order);
    return s === "authorized" || s === "captured";
  }

  // failure turns a back end's refusal into the sentence for the buyer.
  Checkout.prototype.failure = function (r) {
    switch (r.status) {
      case 409: return this.text.changed;
      case 422: return this.text.notAccepted;
      case 502: return this.text.checking;
      case 503: return this.text.unavailable;
    }
    return this.text.refused;
  };

  // start opens the widget for the order: with the configuration of kessai's order answer the
  // first time, and with a fresh checkout from the shop's back end afterwards (after NG kessai
  // makes it a new attempt). It returns false while a widget is already open.
  Checkout.prototype.start = function (order) {
    if (this.busy) return false;
    if (!order || !order.id) throw new TypeError("kessai.js: start needs the order as kessai answered it (with its id)");
    var self = this;
    self.busy = true;
    var fresh = order.config && !self.used[order.id];
    self.used[order.id] = true;
    var got = fresh ? Promise.resolve({ status: 200, body: order }) : self.post(order.id, "checkout", {});
    got.then(function (r) {
      if (r.status !== 200) {
        self.fail(self.failure(r), r.body && r.body.error);
        return;
      }
      var o = r.body;
      if (paid(o)) { // paid meanwhile (the provider's notification came first)
        self.done();
        self.call("onAuthorized", o);
        return;
      }
      var module = o.settlement && o.settlement.module;
      var driver = drivers[module];
      if (!driver || !o.config) {
        self.fail(self.text.unsupported, "no widget for module " + module);
        return;
      }
      self.open(driver, o);
    }, function (e) {
      self.fail(self.text.network, e);
    });
    return true;
  };

  // open runs one payment in the widget. The widget reports one end; should a widget report
  // more (a close and then an answer), the answer wins, since it says what moved.
  Checkout.prototype.open = function (driver, order) {
    var self = this;
    var s = { order: order, ended: "" };
    self.current = s;
    driver.open(order.config, {
      succeeded: function (resp) { self.result(driver, s, resp); },
      failed: function (resp) { self.result(driver, s, resp); },
      cancelled: function () {
        if (s.ended) return;
        s.ended = "cancelled";
        var done = function () {
          self.done(s);
          self.call("onCancelled", order);
        };
        self.post(order.id, "cancelled", {}).then(done, done);
      },
      error: function (detail) {
        // The widget shows the error itself; it ends with cancelled when the buyer closes it.
        if (window.console) console.warn("kessai.js: the widget reported", detail);
        self.call("onError", self.text.widget, detail);
      }
    }).catch(function (e) {
      self.fail(self.text.unavailable, e, s);
    });
  };

  // result sends the widget's answer to the shop's back end, which has kessai confirm it with
  // the provider; the answer is the order with its settlement.
  Checkout.prototype.result = function (driver, s, resp) {
    if (s.ended === "result") return;
    s.ended = "result";
    var self = this;
    var tries = 0;
    var send = function () {
      tries++;
      self.post(s.order.id, "result", resp).then(function (r) {
        var o = r.body || {};
        if (r.status === 200 && paid(o)) {
          self.done(s);
          self.call("onAuthorized", o);
          return;
        }
        if (r.status === 200 && statusOf(o) === "error") {
          self.done(s);
          var reason = (driver.reasons && driver.reasons[o.settlement.reason]) || self.text.declined;
          self.call("onDeclined", reason, o);
          return;
        }
        if ((r.status === 200 || r.status === 202) && tries < RESULT_TRIES) {
          // kessai is still confirming (the provider's notification holds the settlement).
          setTimeout(send, 500 * tries);
          return;
        }
        self.fail(r.status === 200 || r.status === 202 ? self.text.checking : self.failure(r), o.error, s);
      }, function (e) {
        // The answer is the only word of a payment that may have gone through: it is sent
        // again, and kessai learns it from the provider if it never arrives.
        if (tries < RESULT_TRIES) {
          setTimeout(send, 500 * tries);
          return;
        }
        self.fail(self.text.checking, e, s);
      });
    };
    send();
  };

  window.Kessai = {
    // checkout returns the checkout runner for a page; see the comment at the top.
    checkout: function (opts) { return new Checkout(opts); },
    // messages are the sentences kessai.js gives the shop's callbacks; opts.messages overrides them.
    messages: TEXT
  };
})(window);
