// Peer for bench/images.py: Flux's semver tag selection, the code path of image-reflector-controller's
// internal/policy/semver.go (Masterminds/semver v3 constraints; fluxcd/pkg version.ParseVersion: strip one
// leading "v", require strict semver). Reimplemented here in a few lines so the benchmark needs only the
// Masterminds module.
//
//	go run . <tags-file> <range> <repeat>   → prints "<latest> <best nanoseconds>"
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

func parseVersion(v string) (*semver.Version, error) {
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err != nil {
		return nil, err
	}
	return semver.NewVersion(v)
}

func latest(constraint *semver.Constraints, versions []string) string {
	var best *semver.Version
	for _, ver := range versions {
		if v, err := parseVersion(ver); err == nil {
			if constraint.Check(v) && (best == nil || v.GreaterThan(best)) {
				best = v
			}
		}
	}
	if best == nil {
		return ""
	}
	return best.Original()
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	var tags []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			tags = append(tags, line)
		}
	}
	constraint, err := semver.NewConstraint(os.Args[2])
	if err != nil {
		panic(err)
	}
	repeat, _ := strconv.Atoi(os.Args[3])
	bestTime := time.Duration(1 << 62)
	result := ""
	for i := 0; i < repeat; i++ {
		start := time.Now()
		result = latest(constraint, tags)
		if d := time.Since(start); d < bestTime {
			bestTime = d
		}
	}
	fmt.Println(result, bestTime.Nanoseconds())
}
