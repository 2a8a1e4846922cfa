// kessai admin console: drag-and-drop (a small pointer-events sortable that works with a mouse,
// a pen and a finger), the fetch helper with the CSRF header, and the confirmations the manual
// asks for. No framework: the console must keep working offline and without a build step.
(function () {
  "use strict";

  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // post sends JSON with the session's CSRF token, as every fetch/AJAX call must.
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

  // sortable makes the items of every list with data-sortable=group draggable within the
  // group: lists of the same group exchange items. onEnd(item, from, to) runs after a drop.
  // Pointer events rather than HTML5 drag and drop: the latter does nothing on most phones.
  function sortable(group, opts) {
    var lists = Array.prototype.slice.call(document.querySelectorAll('[data-sortable="' + group + '"]'));
    if (!lists.length) { return; }
    var drag = null;

    function listAt(x, y) {
      var el = document.elementFromPoint(x, y);
      return el && el.closest('[data-sortable="' + group + '"]');
    }

    lists.forEach(function (list) {
      list.addEventListener("pointerdown", function (e) {
        if (e.button !== 0) { return; }
        var grip = opts.handle ? e.target.closest(opts.handle) : e.target.closest(opts.item);
        if (!grip || !list.contains(grip)) { return; }
        if (!opts.handle && e.target.closest("button, input, select, textarea, a, label")) { return; }
        var item = grip.closest(opts.item);
        if (!item) { return; }
        e.preventDefault();
        drag = { item: item, from: list, x: e.clientX, y: e.clientY, started: false };
      });
    });

    document.addEventListener("pointermove", function (e) {
      if (!drag) { return; }
      if (!drag.started) {
        if (Math.abs(e.clientX - drag.x) + Math.abs(e.clientY - drag.y) < 4) { return; }
        drag.started = true;
        drag.item.classList.add("dragging");
        document.body.classList.add("is-dragging");
      }
      e.preventDefault();
      var list = listAt(e.clientX, e.clientY);
      if (!list) { return; }
      var over = document.elementFromPoint(e.clientX, e.clientY).closest(opts.item);
      if (over && over !== drag.item && list.contains(over)) {
        var r = over.getBoundingClientRect();
        list.insertBefore(drag.item, e.clientY < r.top + r.height / 2 ? over : over.nextSibling);
      } else if (!over && drag.item.parentNode !== list) {
        list.appendChild(drag.item);
      }
    });

    function end() {
      if (!drag) { return; }
      var d = drag;
      drag = null;
      if (!d.started) { return; }
      d.item.classList.remove("dragging");
      document.body.classList.remove("is-dragging");
      if (opts.onEnd) { opts.onEnd(d.item, d.from, d.item.parentNode); }
    }
    document.addEventListener("pointerup", end);
    document.addEventListener("pointercancel", end);
  }

  // クレジット決済モジュール選択: the hidden field follows the 利用中 list; the button saves it.
  function settlementSelection() {
    var form = document.getElementById("settlement-form");
    if (!form) { return; }
    var available = document.getElementById("available-settlement");
    var selected = document.getElementById("settlement-selected");
    var field = document.getElementById("settlement_selected");
    function sync() {
      field.value = Array.prototype.map.call(selected.querySelectorAll("[data-slug]"), function (li) {
        return li.getAttribute("data-slug");
      }).join(",");
      Array.prototype.forEach.call(document.querySelectorAll(".module-item [data-move]"), function (b) {
        b.textContent = b.closest("#settlement-selected") ? "← 外す" : "利用する →";
      });
    }
    sortable("settlement", { item: ".module-item", onEnd: sync });
    // A button per item for keyboards and for anyone who cannot drag.
    document.addEventListener("click", function (e) {
      var b = e.target.closest(".module-item [data-move]");
      if (!b) { return; }
      var li = b.closest(".module-item");
      (li.parentNode === selected ? available : selected).appendChild(li);
      sync();
      b.focus();
    });
    form.addEventListener("submit", sync);
    sync();
  }

  // 支払方法: dropping a row saves the storefront order at once.
  function paymentMethodSort() {
    var list = document.getElementById("payment-methods");
    if (!list) { return; }
    var status = document.getElementById("sort-status");
    sortable("pm", {
      item: ".pm-row",
      handle: ".drag-handle",
      onEnd: function () {
        var ids = Array.prototype.map.call(list.querySelectorAll(".pm-row[data-id]"), function (li) {
          return parseInt(li.getAttribute("data-id"), 10);
        });
        status.textContent = "保存中…";
        status.className = "sort-status";
        post(list.getAttribute("data-sort-url"), { ids: ids })
          .then(function (r) {
            status.textContent = r.ok ? r.body.message : (r.body.error && r.body.error.message) || "並び順を更新できませんでした。";
            status.className = "sort-status " + (r.ok ? "ok" : "error");
          })
          .catch(function () {
            status.textContent = "並び順を更新できませんでした。";
            status.className = "sort-status error";
          });
      }
    });
  }

  // Confirmations: a button with data-confirm asks before it submits (削除); a settings form
  // asks before it switches a radio to a value marked data-confirm (本番環境) that is not
  // the stored one.
  function confirmations() {
    document.addEventListener("click", function (e) {
      var b = e.target.closest("button[data-confirm]");
      if (b && !window.confirm(b.getAttribute("data-confirm"))) {
        e.preventDefault();
      }
    });
    Array.prototype.forEach.call(document.querySelectorAll("form.settings-form"), function (form) {
      form.addEventListener("submit", function (e) {
        var risky = form.querySelector("input[type=radio][data-confirm]:checked:not([data-saved])");
        if (risky && !window.confirm(risky.getAttribute("data-confirm"))) {
          e.preventDefault();
        }
      });
    });
  }

  function menuToggle() {
    var b = document.querySelector(".menu-toggle");
    if (!b) { return; }
    b.addEventListener("click", function () {
      var open = document.body.classList.toggle("menu-open");
      b.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    settlementSelection();
    paymentMethodSort();
    confirmations();
    menuToggle();
  });
})();
