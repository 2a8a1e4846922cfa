package plugintest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/kessai/kessai/plugins"
	"github.com/kessai/kessai/plugins/plugintest"
)

func TestBuildTestModuleGivesEachTestItsOwnCopy(t *testing.T) {
	var paths []string
	for range 2 {
		t.Run("build", func(t *testing.T) {
			p := plugintest.BuildTestModule(t)
			if fi, err := os.Stat(p); err != nil || fi.Mode()&0o100 == 0 {
				t.Fatalf("binary %s: %v, %v", p, fi, err)
			}
			paths = append(paths, p)
		})
	}
	if paths[0] == paths[1] {
		t.Errorf("both tests got %s", paths[0])
	}
	if _, err := os.Stat(paths[0]); !os.IsNotExist(err) {
		t.Errorf("copy of a finished test still there: %v", err)
	}
}

func TestSetSwitchMergesAndDisarms(t *testing.T) {
	file := plugintest.SwitchFile(t)
	plugintest.SetSwitch(t, file, "Capture", plugintest.Crash, 1)
	plugintest.SetSwitch(t, file, "Cancel", plugintest.Sleep(2*time.Second), 0)
	plugintest.SetSwitch(t, file, "Capture", plugintest.Off, 0)

	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["Cancel"]["mode"] != "sleep:2s" {
		t.Errorf("switch file = %s", b)
	}
	if bytes.Contains(b, []byte("times")) {
		t.Errorf("times 0 (every call) written as a count: %s", b)
	}
}

func TestBuildTestModuleWithout(t *testing.T) {
	ctx := context.Background()
	all, _ := plugintest.Launch(t, plugintest.BuildTestModule(t))
	fewer, _ := plugintest.Launch(t, plugintest.BuildTestModule(t, plugins.CanModify, plugins.CanCharge))
	d, err := all.Describe(ctx)
	if err != nil || !d.Can(plugins.CanModify) || !d.Can(plugins.CanCharge) {
		t.Fatalf("the full build describes %v (%v)", d.Capabilities, err)
	}
	d, err = fewer.Describe(ctx)
	if err != nil || d.Can(plugins.CanModify) || d.Can(plugins.CanCharge) || !d.Can(plugins.CanCapture) {
		t.Fatalf("the build without modify and charge describes %v (%v)", d.Capabilities, err)
	}
}
