// The test page's bindings: what Welcart 2.12.1's admin scripts read from the façade's
// answers and how they use it, written for the test (no jQuery UI: dialogs are shown and
// hidden, and the test moves a row before calling sortUpdate, as jQuery UI's sortable would).
//
// What Welcart's scripts rely on, and these bind the same way:
//   決済エラーログ: input.error-log-check (value = log id), .error-log-detail (id = log id),
//     the detail's input#log_id, nodata == "nodata", ログ出力 as a GET of admin.php.
//   支払方法: tbody#payment-list replaced by meta_row; meta_id -1 is a refusal after an add or
//     an update; inputs found by id payment[ID][field]; the ids of the tables in
//     #payment-list, "payment-ID", sent as idstr after a drag.
//   決済情報: #settlement-response gets result in the success handler only; the badge
//     #settlement-status is replaced on OK; #capture-settlement, #delete-settlement,
//     #change-settlement with #amount_change and #amount.
(function ($) {
  "use strict";
  var ajaxurl = "/wp-admin/admin-ajax.php";
  var nonce = "f00dfeed";

  // What the page asked, for the test; every question is answered OK.
  window.asked = [];
  window.confirm = function (m) { window.asked.push(m); return true; };
  window.alert = function (m) { window.asked.push("alert: " + m); };
  sessionStorage.setItem("loads", String(Number(sessionStorage.getItem("loads") || "0") + 1));

  function post(data) {
    return $.ajax({ url: ajaxurl, type: "POST", dataType: "json", data: $.extend({ wc_nonce: nonce }, data) });
  }

  // 決済エラーログ
  var errorLog = {
    checked: function () {
      var ids = [];
      $(".error-log-check").each(function () {
        if ($(this).prop("checked")) { ids.push($(this).val()); }
      });
      return ids.join(":");
    },
    list: function () {
      post({ action: "order_item_ajax", mode: "get_settlement_error_log" }).done(function (r) {
        if (r.status == "OK") { $("#settlement-error-log-list").html(r.result); }
      });
    },
    detail: function (id) {
      post({ action: "order_item_ajax", mode: "get_settlement_error_log_detail", log_id: id }).done(function (r) {
        if (r.status == "OK") { $("#settlement-error-log-detail").html(r.result); }
      });
    },
    remove: function (ids) {
      post({ action: "order_item_ajax", mode: "delete_settlement_error_log", log_id: ids }).done(function (r) {
        if (r.status != "OK") { return; }
        if (r.nodata == "nodata") {
          location.reload();
        } else {
          $("#settlement-error-log-list").html(r.result);
        }
      });
    },
    removeAll: function () {
      post({ action: "order_item_ajax", mode: "delete_settlement_error_log_all" }).done(function (r) {
        if (r.status == "OK") { location.reload(); }
      });
    },
    output: function (ids) {
      location.href = "/wp-admin/admin.php?page=usces_orderlist&order_action=dlsettlementerrorlog&log_id=" + ids +
        "&noheader=true&wc_nonce=" + nonce;
    }
  };
  $(document).on("click", "#settlement_errorlog", function () {
    $("#settlement-error-log-list").html("");
    $("#settlementErrorLogDialog").prop("hidden", false);
    errorLog.list();
  });
  $(document).on("click", "#errorlog-output", function () { errorLog.output(errorLog.checked()); });
  $(document).on("click", "#errorlog-clear", function () {
    var ids = errorLog.checked();
    if (ids != "") {
      if (confirm("選択したログを削除します。よろしいですか ?")) { errorLog.remove(ids); }
    } else if (confirm("全てのログを削除します。よろしいですか ?")) {
      errorLog.removeAll();
    }
  });
  $(document).on("click", "#errorlog-close", function () { $("#settlementErrorLogDialog").prop("hidden", true); });
  $(document).on("click", ".error-log-detail", function () {
    $("#settlement-error-log-detail").html("");
    errorLog.detail($(this).attr("id"));
    $("#settlementErrorLogDetailDialog").prop("hidden", false);
  });
  $(document).on("click", "#errorlog-detail-output", function () { errorLog.output($("#log_id").val()); });
  $(document).on("click", "#errorlog-detail-close", function () { $("#settlementErrorLogDetailDialog").prop("hidden", true); });

  // 支払方法. The rows call payment.post from their own onclick.
  function field(id, name) { return document.getElementById("payment[" + id + "][" + name + "]"); }
  function refused() {
    $("#payment_ajax-response").html('<div class="error"><p>同じ支払方法名が存在します。</p></div>');
  }
  window.payment = {
    post: function (action, id) {
      if (action == "update") { payment.update(id); }
      if (action == "del") { payment.del(id); }
      if (action == "add") { payment.add(); }
    },
    add: function () {
      post({ action: "payment_ajax", newname: $("#newname").val(), newexplanation: $("#newexplanation").val(),
        newsettlement: $("#newsettlement").val(), newmodule: $("#newmodule").val() }).done(function (r) {
        $("#payment_ajax-response").html("");
        if (-1 == r.meta_id) {
          refused();
        } else {
          $("tbody#payment-list").html(r.meta_row);
          $("#newname").val("");
          $("#newexplanation").val("");
          $("#newmodule").val("");
        }
      });
    },
    update: function (id) {
      post({ action: "payment_ajax", update: 1, id: id, name: $(field(id, "name")).val(),
        explanation: $(field(id, "explanation")).val(), settlement: $(field(id, "settlement")).val(),
        module: $(field(id, "module")).val(), sort: $(field(id, "sort")).val(),
        use: $("input[name='payment[" + id + "][use]']:checked").val() }).done(function (r) {
        $("#payment_ajax-response").html("");
        if (-1 == r.meta_id) {
          refused();
        } else {
          $("tbody#payment-list").html(r.meta_row);
        }
      });
    },
    del: function (id) {
      post({ action: "payment_ajax", "delete": 1, id: id }).done(function (r) {
        $("tbody#payment-list").html(r.meta_row);
      });
    },
    dosort: function (str) {
      var idstr = str.replace(/payment-/g, "");
      if (idstr.split(",").length < 2) { return; }
      post({ action: "payment_ajax", sort: 1, idstr: idstr }).done(function (r) {
        $("tbody#payment-list").html(r.meta_row);
      });
    }
  };
  // sortUpdate is what the sortable's update does after a drag.
  window.sortUpdate = function () {
    var ids = [];
    $("table", "#payment-list").each(function () { ids.push($(this).attr("id")); });
    if (ids.length > 1) { payment.dosort(ids.toString()); }
  };

  // 決済情報
  function operate(mode, amount) {
    $("#settlement-response").html("");
    return post({ action: "usces_admin_ajax", mode: mode, order_id: $("#order_id").val(), order_num: $("#order_num").val(),
      trans_id: $("#trans_id").val(), member_id: $("#member_id").val(), amount: amount });
  }
  function responsecd() { return $("#responsecd-" + $("#trans_id").val() + "-" + $("#order_num").val()); }
  function moved(r) {
    $("#settlement-response").html(r.result);
    if (r.status == "OK") {
      $("#settlement-status").html(r.acting_status);
      responsecd().val("");
    } else {
      responsecd().val(r.status);
    }
  }
  $(document).on("click", ".settlement-information", function () {
    var ids = $(this).attr("id").split("-");
    $("#trans_id").val(ids[2]);
    $("#order_num").val(ids[3]);
    $("#error").val($("#responsecd-" + ids[2] + "-" + ids[3]).val() || "");
    $("#settlement_dialog").prop("hidden", false);
    var mode = ("" != $("#error").val()) ? "error_atone" : "get_atone";
    operate(mode).done(function (r) { $("#settlement-response").html(r.result); });
  });
  $(document).on("click", "#capture-settlement", function () {
    if (!confirm("売上計上処理を実行します。よろしいですか？")) { return; }
    operate("capture_atone", $("#amount_change").val()).done(moved);
  });
  $(document).on("click", "#delete-settlement", function () {
    if (!confirm("取消処理を実行します。よろしいですか？")) { return; }
    operate("delete_atone", $("#amount_change").val()).done(moved);
  });
  $(document).on("click", "#change-settlement", function () {
    if ($("#amount_change").val() == $("#amount").val()) { return; }
    var amount = $("#amount_change").val();
    if (amount == "" || parseInt(amount, 10) === 0 || /[^0-9]/.test(amount)) {
      alert("利用金額の形式が正しくありません。数値で入力してください。");
      return;
    }
    if (!confirm("利用額を変更します。よろしいですか？")) { return; }
    operate("change_atone", amount).done(function (r) { $("#settlement-response").html(r.result); });
  });
  $(document).on("click", "#settlement-dialog-close", function () { $("#settlement_dialog").prop("hidden", true); });
})(jQuery);
