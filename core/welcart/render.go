package welcart

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"

	"github.com/kessai/kessai/plugins/jst"
)

//go:embed templates/*.html
var templateFS embed.FS

var templates = template.Must(template.New("welcart").ParseFS(templateFS, "templates/*.html"))

// tokyo is where Welcart shows times: the database keeps UTC.
var tokyo = jst.Tokyo

const datetimeLayout = "2006-01-02 15:04:05"

func render(name string, data any) (template.HTML, error) {
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	// html/template escaped every value on the way in.
	return template.HTML(b.String()), nil //nolint:gosec // output of html/template
}

func message(msg string) template.HTML {
	h, err := render("message", msg)
	if err != nil {
		return template.HTML(template.HTMLEscapeString(msg)) //nolint:gosec // escaped
	}
	return h
}
