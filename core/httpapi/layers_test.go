package httpapi_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/kessai/kessai"

// frontDoors are the HTTP packages: each translates requests into calls of the domain
// packages and renders their answers. A use case two of them share lives below them, so none
// of them may import another, directly or through a package it imports.
var frontDoors = []string{
	modulePath + "/core/shopapi",
	modulePath + "/core/welcart",
	modulePath + "/core/admin",
	modulePath + "/webhooks/inbound",
}

func TestFrontDoorsImportNoOther(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	imports := map[string][]string{} // a package's own kessai imports, read once
	read := func(pkg string) []string {
		if l, ok := imports[pkg]; ok {
			return l
		}
		imports[pkg] = nil
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(pkg, modulePath)))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		seen := map[string]bool{}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range f.Imports {
				p, _ := strconv.Unquote(is.Path.Value)
				if strings.HasPrefix(p, modulePath+"/") && !seen[p] {
					seen[p] = true
					imports[pkg] = append(imports[pkg], p)
				}
			}
		}
		return imports[pkg]
	}
	for _, door := range frontDoors {
		// Every package door depends on, with the chain that brings it in.
		via := map[string]string{door: door}
		queue := []string{door}
		for len(queue) > 0 {
			pkg := queue[0]
			queue = queue[1:]
			for _, dep := range read(pkg) {
				if _, ok := via[dep]; ok {
					continue
				}
				via[dep] = via[pkg] + " → " + dep
				queue = append(queue, dep)
			}
		}
		for _, other := range frontDoors {
			if chain, ok := via[other]; ok && other != door {
				t.Errorf("%s imports %s: %s", door, other, chain)
			}
		}
		if len(via) < 3 {
			t.Errorf("%s: only %d packages found; is the import reading broken?", door, len(via))
		}
	}
}
