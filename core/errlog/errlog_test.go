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
)

func TestErrorLog(t *testing.T) {
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
			b, _ := errlog.Export(rows, time.FixedZone("JST", 9*3600))
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
