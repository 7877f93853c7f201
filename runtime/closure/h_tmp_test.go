package closure

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"
)

func TestHarness(t *testing.T) {
	root := "/nix/store/3ydb76l0g243386lwbyvb6prgy7qrlzd-app500"
	saved := testOnlyRootDir
	testOnlyRootDir = ""
	defer func() { testOnlyRootDir = saved }()
	dir := t.TempDir()
	for _, mode := range []string{"uncached", "cached"} {
		opts := Options{NixStore: "/nonexistent", IsRoot: true}
		if mode == "cached" {
			opts.CacheDir = dir
		}
		var w []time.Duration
		for i := 0; i < 800; i++ {
			w0 := time.Now()
			c, err := Resolve(context.Background(), []string{root}, opts)
			if err != nil || len(c.Paths) != 500 {
				panic(err)
			}
			w = append(w, time.Since(w0))
		}
		sort.Slice(w, func(a, b int) bool { return w[a] < w[b] })
		var sum time.Duration
		for _, x := range w {
			sum += x
		}
		fmt.Printf("%s %-9s min %v p10 %v p25 %v med %v p75 %v p90 %v p99 %v mean %v\n", os.Getenv("TAG"), mode, w[0], w[len(w)/10], w[len(w)/4], w[len(w)/2], w[len(w)*3/4], w[len(w)*9/10], w[len(w)*99/100], sum/time.Duration(len(w)))
	}
}
