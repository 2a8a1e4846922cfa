// kessai admin console, order screens: the 決済情報 dialog (取引参照 on opening, 売上計上 and 取消
// with Welcart's confirmations and, for a module that takes them, an amount; each a fetch POST
// with the CSRF header), the running totals of 受注編集, and the 決済エラーログ's select-all and
// ログ削除 confirmation.
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, body: j }; });
    });
  }

  function settlementDialog() {
    var dlg = document.getElementById("settlement_dialog");
    if (!dlg) { return; }
    var response = document.getElementById("settlement-response");
    var loading = document.getElementById("settlement-response-loading");
    var base = dlg.getAttribute("data-url");
    var transID = dlg.getAttribute("data-trans-id");
    var busy = false;

    // show puts an answer in the dialog and the badge on the page (#settlement-status), as
    // Welcart's admin-ajax answers do.
    function show(r) {
      var b = r.body || {};
      if (b.result) {
        response.innerHTML = b.result;
      } else {
        var msg = (b.error && b.error.message) || "処理中にエラーが発生しました。";
        response.insertAdjacentHTML("afterbegin", '<div class="error_message settlement-notice"></div>');
        response.querySelector(".settlement-notice").textContent = msg;
      }
      if (b.acting_status) {
        Array.prototype.forEach.call(document.querySelectorAll(".settlement-status"), function (el) {
          el.innerHTML = b.acting_status;
        });
      }
      dlg.setAttribute("data-state", b.status || "NG");
    }

    // run asks for op; data-state says OK or NG once the answer is in, and is absent meanwhile.
    function run(op) {
      busy = true;
      dlg.removeAttribute("data-state");
      loading.hidden = false;
      Array.prototype.forEach.call(response.querySelectorAll("input[type=button]"), function (b) { b.disabled = true; });
      var body = { trans_id: transID };
      // A module that takes partial amounts shows #settlement-amount; empty is the whole.
      var amount = response.querySelector("#settlement-amount");
      if (amount && op !== "reference") { body.amount = amount.value.trim(); }
      return post(base + "/" + op, body)
        .then(show)
        .catch(function () { show({ body: {} }); })
        .then(function () { busy = false; loading.hidden = true; });
    }

    document.addEventListener("click", function (e) {
      if (e.target.closest(".settlement-information")) {
        dlg.showModal();
        run("reference");
        return;
      }
      var b = e.target.closest("#settlement-response input[data-mode]");
      if (b && !busy) {
        var confirmText = b.getAttribute("data-confirm");
        if (confirmText && !window.confirm(confirmText)) { return; }
        run(b.getAttribute("data-mode").split("_")[0]);
        return;
      }
      if (e.target.closest(".dialog-close")) {
        dlg.close();
      }
    });
  }

  // totals recomputes 金額 per line, 商品合計 and 総合計金額 as the admin types, the way
  // Welcart's edit screen does; the server adds them up again on 設定を更新.
  function totals() {
    var form = document.getElementById("order-edit");
    if (!form) { return; }
    function n(el) {
      var v = parseInt(String(el && el.value || "").replace(/,/g, ""), 10);
      return isNaN(v) ? 0 : v;
    }
    function fmt(v) { return String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
    function recalc() {
      var items = 0;
      Array.prototype.forEach.call(form.querySelectorAll(".cart-line"), function (tr) {
        var price = tr.querySelector('[data-calc="price"]');
        var qty = tr.querySelector('[data-calc="qty"]');
        var del = tr.querySelector('[data-calc="delete"]');
        var q = qty && qty.value === "" && tr.classList.contains("cart-new") ? 1 : n(qty);
        var amount = n(price) * q;
        var cell = tr.querySelector(".line-amount");
        if (tr.classList.contains("cart-new") && !(price && price.value)) {
          cell.textContent = "";
          return;
        }
        cell.textContent = fmt(amount);
        tr.classList.toggle("deleted", !!(del && del.checked));
        if (!(del && del.checked)) { items += amount; }
      });
      var total = items;
      Array.prototype.forEach.call(form.querySelectorAll('#totals [data-calc="plus"]'), function (el) { total += n(el); });
      Array.prototype.forEach.call(form.querySelectorAll('#totals [data-calc="minus"]'), function (el) { total -= n(el); });
      document.getElementById("item-total").textContent = fmt(items);
      document.getElementById("total-full-price").textContent = fmt(total);
    }
    form.addEventListener("input", recalc);
    form.addEventListener("change", recalc);
  }

  // errorLog: the header checkbox selects every row; ログ削除 without a checked row asks
  // Welcart's 全てのログを削除します。よろしいですか ? and then deletes all.
  function errorLog() {
    var form = document.getElementById("errlog-form");
    if (!form) { return; }
    var all = document.getElementById("log-check-all");
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(form.querySelectorAll('input[name="log_id"]'), function (c) { c.checked = all.checked; });
    });
    var del = document.getElementById("delete-log");
    del.addEventListener("click", function (e) {
      var flag = document.getElementById("delete-all");
      flag.value = "";
      if (form.querySelector('input[name="log_id"]:checked')) { return; }
      if (!window.confirm(del.getAttribute("data-confirm-all"))) {
        e.preventDefault();
        return;
      }
      flag.value = "1";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    settlementDialog();
    totals();
    errorLog();
  });
})();
