package errlog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/encoding/japanese"
	"gorm.io/gorm"
)

// exportBatch is how many rows an export reads at a time: the file of a log of any size is
// written with the memory of one batch.
const exportBatch = 500

// blockEnd closes a row's block in Welcart's file: fifty dashes and an empty line.
const blockEnd = "--------------------------------------------------\r\n\r\n"

// ExportName is Welcart's file name for an export made at t (Asia/Tokyo).
func ExportName(t time.Time, loc *time.Location) string {
	return "settlement_error_" + t.In(loc).Format("20060102150405") + ".log"
}

// Selection is the rows an export holds: those of the orders whose ids Orders selects (a
// shop's, order.OfShop; nil for every row, the admin's view, as for the …For functions) and,
// when IDs is not nil, only those among them. An id that is not there (deleted meanwhile, or
// another shop's) is skipped, as Welcart skips it.
type Selection struct {
	Orders *gorm.DB
	IDs    []int64
}

// WriteExport writes the selected rows, newest first, in Welcart's ログ出力 file (see Export)
// to w, reading them exportBatch at a time. It returns how many rows it wrote.
func WriteExport(ctx context.Context, w io.Writer, db *gorm.DB, sel Selection, loc *time.Location) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	write := func(batch []Entry) error {
		for _, e := range batch {
			if err := writeShiftJIS(bw, block(e, loc)); err != nil {
				return err
			}
			n++
		}
		return nil
	}
	scoped := func() *gorm.DB {
		q := db.WithContext(ctx)
		if sel.Orders != nil {
			q = ofOrders(q, sel.Orders)
		}
		return q
	}
	if sel.IDs != nil {
		ids := slices.Clone(sel.IDs)
		slices.Sort(ids)
		slices.Reverse(ids)
		ids = slices.Compact(ids)
		for chunk := range slices.Chunk(ids, exportBatch) {
			var batch []Entry
			if err := scoped().Where("id IN ?", chunk).Order("id DESC").Find(&batch).Error; err != nil {
				return n, fmt.Errorf("export error log: %w", err)
			}
			if err := write(batch); err != nil {
				return n, err
			}
		}
		return n, bw.Flush()
	}
	// Keyset paging on the id: each batch starts below the last one written, so rows written
	// meanwhile neither shift the pages nor appear twice.
	var last int64
	for {
		q := scoped().Order("id DESC").Limit(exportBatch)
		if last != 0 {
			q = q.Where("id < ?", last)
		}
		var batch []Entry
		if err := q.Find(&batch).Error; err != nil {
			return n, fmt.Errorf("export error log: %w", err)
		}
		if err := write(batch); err != nil {
			return n, err
		}
		if len(batch) < exportBatch {
			return n, bw.Flush()
		}
		last = batch[len(batch)-1].ID
	}
}

// Export renders rows in Welcart's ログ出力 format, encoded as Shift_JIS: for each row a block
// of 登録日 = …, リンクキー = …, 処理結果 = …, then key = value for every detail, closed by a line
// of fifty dashes and an empty line, every line ending in CRLF. Characters Shift_JIS cannot hold
// become "?". Keys and values are escaped (see escape), so each line is one field whatever the
// row holds. The 決済種別 is not in the file, as it is not in Welcart's.
func Export(entries []Entry, loc *time.Location) ([]byte, error) {
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	for _, e := range entries {
		if err := writeShiftJIS(bw, block(e, loc)); err != nil {
			return nil, err
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// block is one row of the file, in UTF-8.
func block(e Entry, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "登録日 = %s\r\n", e.Datetime.In(loc).Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, "リンクキー = %s\r\n", escape(e.LogKey))
	fmt.Fprintf(&b, "処理結果 = %s\r\n", escape(e.Result))
	for _, f := range e.Flat() {
		fmt.Fprintf(&b, "%s = %s\r\n", escape(f.Key), escape(f.Value))
	}
	b.WriteString(blockEnd)
	return b.String()
}

// escape keeps a key or value on its line. Rows hold text from outside (a provider's
// messages, the merchant reference of a notification), and a value carrying CR or LF would
// start a line of its own in the export, one that reads like a field, "処理結果 = OK", to the
// admin or script that reads the file. Control characters (C0, DEL, C1) and the Unicode line
// and paragraph separators are written as Go escapes: \r, \n, \t, \x1b, \u0085.
func escape(s string) string {
	if !strings.ContainsFunc(s, breaksLine) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && breaksLine(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case breaksLine(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func breaksLine(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

// writeShiftJIS writes s to w in Shift_JIS. A block encodes in one call; one holding a
// character Shift_JIS lacks is encoded rune by rune, that character written as "?", so that
// one character does not lose the row.
func writeShiftJIS(w *bufio.Writer, s string) error {
	enc := japanese.ShiftJIS.NewEncoder()
	if b, err := enc.String(s); err == nil {
		_, err = w.WriteString(b)
		return err
	}
	for _, r := range s {
		b, err := enc.String(string(r))
		if err != nil {
			b = "?"
		}
		if _, err := w.WriteString(b); err != nil {
			return err
		}
	}
	return nil
}
