/*
 * atone.js for the atone sandbox: the same public API and the same postMessage protocol as
 * atone's production script (Atone.config, start, merge, sync; callbacks authenticated,
 * cancelled, failed, succeeded, error), without jQuery so that it loads offline.
 *
 * It is as strict as production: Atone.start() before atone.js is ready, or a second
 * Atone.config without a callback, throw a TypeError, as they do in production. Pages written
 * against the forgiving sandbox of old load atone.js?lenient=1, which queues the start and
 * takes the second config.
 */
var Atone = (function () {
  "use strict";

  // The checkout page lives on the host that served this script.
  var ORIGIN = (function () {
    try {
      return new URL(document.currentScript.src).origin;
    } catch (e) {
      return "__SANDBOX_ORIGIN__";
    }
  })();

  // The server writes true here for atone.js?lenient=1.
  var LENIENT = __SANDBOX_LENIENT__;

  var options = {};
  var iframe = null;
  var box = null;
  var overlay = null;
  var configured = false;
  var loaded = false; // the checkout page said angular_loaded
  var ready = false;  // and it has the first config's payment: start may open it
  var whenLoaded = [];

  function post(message) {
    // Production atone.js posts to "*"; so does this one, to stay interchangeable.
    iframe.contentWindow.postMessage(message, "*");
  }

  function initMessage() {
    post({ pub_key: options.pub_key, pre_token: options.pre_token, payment: options.payment });
  }

  function call(name) {
    var fn = options[name];
    if (typeof fn === "function") {
      fn.apply(null, Array.prototype.slice.call(arguments, 1));
    }
  }

  // position centres the modal in the window, as production does at start; this one does it
  // again whenever the checkout page reports a new height, so that a taller screen never
  // hangs below a phone's window.
  function position() {
    if (!box || box.style.display === "none") return;
    var w = window.innerWidth, h = window.innerHeight;
    var bh = box.offsetHeight;
    if (bh > h) h = bh + 60;
    box.style.left = Math.max(0, (w - box.offsetWidth) / 2) + "px";
    box.style.top = (window.pageYOffset + Math.max(0, (h - bh) / 2)) + "px";
  }

  function loadIframe() {
    box = document.createElement("div");
    box.className = "m-modalBox";
    box.style.cssText = "background:#fff;border-radius:7px;overflow:hidden;position:absolute;top:0;width:340px;z-index:9999;display:none;";
    iframe = document.createElement("iframe");
    iframe.src = ORIGIN + "/payment/#/";
    iframe.name = "authentication-form-iframe";
    iframe.id = "authentication-form-iframe";
    iframe.style.cssText = "width:100%;height:516px;display:block;";
    iframe.setAttribute("scrolling", "no");
    iframe.setAttribute("frameborder", "0");
    box.appendChild(iframe);
    document.body.appendChild(box);
    window.addEventListener("resize", position);
  }

  function close(then) {
    if (overlay) {
      overlay.parentNode.removeChild(overlay);
      overlay = null;
    }
    box.style.display = "none";
    // The next start begins from a fresh form, as in production.
    initMessage();
    then();
  }

  window.addEventListener("message", function (e) {
    if (!iframe || e.source !== iframe.contentWindow) return;
    var d = e.data || {};
    switch (d.msg) {
      case "angular_loaded":
        loaded = true;
        var queue = whenLoaded;
        whenLoaded = [];
        for (var i = 0; i < queue.length; i++) queue[i]();
        break;
      case "link":
        window.open(d.url, "_blank");
        break;
      case "cancelled":
        close(function () { call("cancelled"); });
        break;
      case "authenticated":
        call("authenticated", d.authentication_token, d.user_no);
        break;
      case "sign_out":
        options.pre_token = null;
        break;
      case "failed":
        close(function () { call("failed", d.response); });
        break;
      case "succeeded":
        close(function () { call("succeeded", d.response); });
        break;
      case "error":
        // The checkout page shows the error and its 閉じる, which ends as cancelled; the
        // modal stays open until then.
        call("error", d.name, d.message, d.errors);
        break;
      case "box_height":
        if (d.box_height > 0) {
          iframe.style.height = d.box_height + "px";
          position();
        }
        break;
    }
  }, false);

  function whenReady(fn) {
    if (loaded) fn(); else whenLoaded.push(fn);
  }

  function open() {
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.className = "atone-c-overlay";
      overlay.style.cssText = "background:rgba(0,0,0,0.7);display:block;position:fixed;top:0;left:0;height:100%;width:100%;z-index:9998;";
      document.body.appendChild(overlay);
    }
    box.style.display = "block";
    position();
    post("start");
  }

  return {
    // config stores the options. The first config loads the checkout page, sends it the
    // payment and then calls onReady. A later config only replaces the options and calls
    // onReady at once, as production does: it sends nothing (call sync for that), and
    // without onReady it throws, as production's does.
    config: function (opts, onReady) {
      options = opts || {};
      if (configured) {
        if (typeof onReady === "function") {
          if (LENIENT) whenReady(onReady); else onReady();
          return;
        }
        if (!LENIENT) throw new TypeError("Atone.config: a second config needs its callback (production atone.js calls it and fails without one); use Atone.merge and Atone.sync to change the payment");
        return;
      }
      configured = true;
      var begin = function () {
        if (!iframe) loadIframe();
        whenReady(function () {
          initMessage();
          ready = true;
          if (typeof onReady === "function") onReady();
        });
      };
      if (document.body) begin(); else document.addEventListener("DOMContentLoaded", begin);
    },
    // merge copies keys into the options. Production atone.js (2017) copies only the first
    // key of the object; this copy does the same so that code relying on more fails here too.
    merge: function (obj) {
      obj = obj || {};
      for (var k in obj) {
        if (Object.prototype.hasOwnProperty.call(obj, k)) {
          options[k] = obj[k];
          return;
        }
      }
    },
    // sync sends the current options to the checkout page. Its production purpose is not
    // documented; shops call it before start after changing the options.
    sync: function () {
      if (iframe) whenReady(initMessage);
    },
    // start opens the modal. Production atone.js has nothing to open before its config's
    // callback and throws; so does this one unless lenient, which opens it once ready.
    start: function () {
      if (!ready) {
        if (!LENIENT) throw new TypeError("Atone.start: atone.js is not ready; call start from Atone.config's callback or later");
        whenReady(open);
        return;
      }
      open();
    }
  };
})();
