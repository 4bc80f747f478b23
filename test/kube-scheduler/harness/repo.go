package harness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// RepoRoot finds the wattsched checkout: $WATTSCHED_REPO if set, else the nearest ancestor of the working
// directory holding both package.json and the shipped scheduler config (go test runs in the package directory).
func RepoRoot() (string, error) {
	if r := os.Getenv("WATTSCHED_REPO"); r != "" {
		return filepath.Abs(r)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isFile(filepath.Join(dir, "package.json")) && isFile(filepath.Join(dir, ShippedConfigPath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the wattsched repository root above " + strings.TrimSpace(dir) + " (set WATTSCHED_REPO)")
		}
		dir = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
