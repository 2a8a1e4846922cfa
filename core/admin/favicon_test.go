package admin_test

import (
	"bytes"
	"image/png"
	"io"
	"net/http"
	"testing"

	"github.com/kessai/kessai/core/admin/admintest"
)

func TestFavicon(t *testing.T) {
	srv := admintest.Start(t)
	resp, err := http.Get(srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/x-icon" || len(b) > 1024 {
		t.Fatalf("%d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	// An ICO of one image whose data is a PNG (ICONDIR, then one 16-byte entry).
	if !bytes.HasPrefix(b, []byte{0, 0, 1, 0, 1, 0}) {
		t.Fatalf("not an ICO: % x", b[:6])
	}
	img, err := png.Decode(bytes.NewReader(b[22:]))
	if err != nil || img.Bounds().Dx() != 32 || img.Bounds().Dy() != 32 {
		t.Fatalf("icon image: %v %v", img, err)
	}
}
