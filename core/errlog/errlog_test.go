package errlog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/kessai/kessai/core/errlog"
	"github.com/kessai/kessai/core/store"
	"github.com/kessai/kessai/core/store/storetest"
	"github.com/kessai/kessai/plugins/jst"
)

func TestErrorLog(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if n, _ := errlog.Notice(ctx, st.DB); !n.IsZero() {
			t.Fatal("notice up on an empty log")
		}
		for i, r := range []string{"ATONE AUTHORIZE NG", "ATONE CAPTURE NG"} {
			err := errlog.Write(ctx, st.DB, "k"+string(rune('1'+i)), "atone", r, map[string]any{"code": "EATN0115", "messages": []any{"お客様の氏名が不正です"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Run("the notice shows the last error's time", func(t *testing.T) {
			n, err := errlog.Notice(ctx, st.DB)
			if err != nil || n.IsZero() || time.Since(n) > time.Minute {
				t.Fatalf("notice %v %v", n, err)
			}
		})
		t.Run("export is Shift_JIS in Welcart's blocks", func(t *testing.T) {
			rows, total, _ := errlog.List(ctx, st.DB, 10, 0)
			if total != 2 || len(rows) != 2 || rows[0].LogKey != "k2" {
				t.Fatalf("list %v", rows)
			}
			b, _ := errlog.Export(rows, jst.Tokyo)
			dec, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
			if err != nil {
				t.Fatal(err)
			}
			s := string(dec)
			for _, want := range []string{"登録日 = ", "リンクキー = k2", "処理結果 = ATONE CAPTURE NG", "messages:0 = お客様の氏名が不正です", "-----"} {
				if !strings.Contains(s, want) {
					t.Errorf("export lacks %q:\n%s", want, s)
				}
			}
			if strings.Contains(string(b), "登録日") {
				t.Error("export is not Shift_JIS encoded")
			}
		})
		t.Run("deleting the last row clears the notice", func(t *testing.T) {
			rows, _, _ := errlog.List(ctx, st.DB, 10, 0)
			if n, _ := errlog.Delete(ctx, st.DB, []int64{rows[0].ID}); n != 1 {
				t.Fatalf("deleted %d", n)
			}
			if n, _ := errlog.Notice(ctx, st.DB); n.IsZero() {
				t.Fatal("notice cleared while a row remains")
			}
			if _, err := errlog.Delete(ctx, st.DB, nil); err != nil {
				t.Fatal(err)
			}
			if n, _ := errlog.Notice(ctx, st.DB); !n.IsZero() {
				t.Fatal("notice still up after deleting all rows")
			}
		})
	})
}

// TestExportKeepsOneFieldPerLine writes a row whose every part carries line breaks and other
// control characters, as a forged notification would, and reads the export back the way a
// person or a script reads it: line by line.
func TestExportKeepsOneFieldPerLine(t *testing.T) {
	t.Parallel()
	st := storetest.SQLite(t) // the escaping is the export's, whatever the database
	ctx := context.Background()
	forged := "ks1-1\r\n処理結果 = OK\r\n"
	err := errlog.Write(ctx, st.DB, "tr_forged\r\nリンクキー = tr_other", "atone", "ATONE WEBHOOK UNKNOWN\n処理結果 = OK",
		map[string]any{
			"shop_transaction_no":   forged,
			"messages":              []any{"一行目\n処理結果 = OK", "\x1b[2J\u0085\u2028\x7f\t"},
			"key\r\n処理結果 = OK\r\nx": "v",
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := errlog.List(ctx, st.DB, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := errlog.Export(rows, jst.Tokyo)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := japanese.ShiftJIS.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(dec), "\r\n\r\n") {
		t.Fatalf("export does not end its last block: %q", dec)
	}
	lines := strings.Split(strings.TrimSuffix(string(dec), "\r\n\r\n"), "\r\n")
	// One block: three fixed lines, one per detail (messages has two), and the dashes.
	want := []string{
		"登録日 = ",
		`リンクキー = tr_forged\r\nリンクキー = tr_other`,
		`処理結果 = ATONE WEBHOOK UNKNOWN\n処理結果 = OK`,
		`key\r\n処理結果 = OK\r\nx = v`,
		`messages:0 = 一行目\n処理結果 = OK`,
		`messages:1 = \x1b[2J\u0085\u2028\x7f\t`,
		`shop_transaction_no = ks1-1\r\n処理結果 = OK\r\n`,
		"-----",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), dec)
	}
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n\x1b\x7f\u0085\u2028") {
			t.Errorf("line %d holds a control character: %q", i, l)
		}
		if !strings.HasPrefix(l, want[i]) || (i > 0 && i < len(lines)-1 && l != want[i]) {
			t.Errorf("line %d = %q, want %q", i, l, want[i])
		}
		if strings.HasPrefix(l, "処理結果 = ") != (i == 2) {
			t.Errorf("line %d = %q: a 処理結果 line where the row has none", i, l)
		}
	}
}

// TestAmountsKeepTheirDigits: a detail of a million yen reads 1000000 in 詳細 and the export,
// never the float's 1e+06.
func TestAmountsKeepTheirDigits(t *testing.T) {
	t.Parallel()
	e := errlog.Entry{Data: `{"amount": 1000000, "attempt": 2, "nested": {"amount": 1234567}}`}
	got := map[string]string{}
	for _, f := range e.Flat() {
		got[f.Key] = f.Value
	}
	if got["amount"] != "1000000" || got["attempt"] != "2" || got["nested:amount"] != "1234567" {
		t.Fatalf("flat details %v", got)
	}
}
