package errlog_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins/jst"

	"golang.org/x/text/encoding/japanese"
	"gorm.io/gorm"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/order"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
)

func decode(t *testing.T, b []byte) string {
	t.Helper()
	s, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatalf("not Shift_JIS: %v", err)
	}
	return string(s)
}

// Welcart's ログ出力 writes 登録日, リンクキー, 処理結果 and the details, each line ending in CRLF,
// and closes every block with fifty dashes and an empty line. It has no 決済種別 line.
func TestExportIsWelcartsBlock(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 4, 1, 3, 4, 5, 0, time.UTC)
	e := errlog.Entry{ID: 7, Datetime: at, LogKey: "1234567890", Acting: "atone", Result: "ATONE AUTHORIZE NG",
		Data: `{"amount": 60000, "errors": [{"code": "EATN0115"}]}`}
	b, err := errlog.Export([]errlog.Entry{e, e}, jst.Tokyo)
	if err != nil {
		t.Fatal(err)
	}
	block := "登録日 = 2025-04-01 12:04:05\r\n" +
		"リンクキー = 1234567890\r\n" +
		"処理結果 = ATONE AUTHORIZE NG\r\n" +
		"amount = 60000\r\n" +
		"errors:0:code = EATN0115\r\n" +
		strings.Repeat("-", 50) + "\r\n\r\n"
	if got := decode(t, b); got != block+block {
		t.Fatalf("export:\n%q\nwant:\n%q", got, block+block)
	}
}

// WriteExport reads the log a batch at a time, newest first, and writes what Export writes.
func TestWriteExportStreamsInBatches(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const rows = 1203 // two full batches and part of a third
		err := st.DB.Transaction(func(tx *gorm.DB) error {
			for i := range rows {
				if err := errlog.Write(ctx, tx, fmt.Sprintf("k%04d", i), "atone", "ATONE AUTHORIZE NG", map[string]any{"n": i}, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var queries int
		countQueries := func(db *gorm.DB) {
			if db.Statement.Table == "error_logs" {
				queries++
			}
		}
		if err := st.DB.Callback().Query().After("gorm:query").Register("test:count", countQueries); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.DB.Callback().Query().Remove("test:count") })

		t.Run("every row, newest first, in three reads", func(t *testing.T) {
			queries = 0
			var buf bytes.Buffer
			n, err := errlog.WriteExport(ctx, &buf, st.DB, errlog.Selection{}, jst.Tokyo)
			if err != nil || n != rows {
				t.Fatalf("wrote %d rows: %v", n, err)
			}
			if queries != 3 {
				t.Fatalf("%d queries, want 3 batches", queries)
			}
			all, _, err := errlog.List(ctx, st.DB, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := errlog.Export(all, jst.Tokyo)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatal("the streamed file differs from Export of the whole list")
			}
			text := decode(t, buf.Bytes())
			if strings.Count(text, "処理結果 = ") != rows || strings.Index(text, "k1202") > strings.Index(text, "k0000") {
				t.Fatal("not every row, or not newest first")
			}
		})
		t.Run("chosen ids, duplicates and unknown ones skipped", func(t *testing.T) {
			all, _, _ := errlog.List(ctx, st.DB, 0, 0)
			var ids []int64
			for _, e := range all[:600] {
				ids = append(ids, e.ID)
			}
			ids = append(ids, all[0].ID, 99999999)
			var buf bytes.Buffer
			n, err := errlog.WriteExport(ctx, &buf, st.DB, errlog.Selection{IDs: ids}, jst.Tokyo)
			if err != nil || n != 600 {
				t.Fatalf("wrote %d rows: %v", n, err)
			}
			want, _ := errlog.Export(all[:600], jst.Tokyo)
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatal("the chosen rows differ from Export of them")
			}
		})
		t.Run("an empty choice is an empty file", func(t *testing.T) {
			var buf bytes.Buffer
			n, err := errlog.WriteExport(ctx, &buf, st.DB, errlog.Selection{IDs: []int64{}}, jst.Tokyo)
			if err != nil || n != 0 || buf.Len() != 0 {
				t.Fatalf("%d rows, %d bytes, %v", n, buf.Len(), err)
			}
		})
		t.Run("a shop's export holds none of the rows of no order", func(t *testing.T) {
			var buf bytes.Buffer
			n, err := errlog.WriteExport(ctx, &buf, st.DB, errlog.Selection{Orders: order.OfShop(st.DB, 1)}, jst.Tokyo)
			if err != nil || n != 0 {
				t.Fatalf("%d rows: %v", n, err)
			}
		})
	})
}
