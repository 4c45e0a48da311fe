package kaconf

import (
	"os"
	"path/filepath"
)

// OSFiles reads the real file system: the Files the command gives Parse.
type OSFiles struct{}

// ReadFile reads the named file.
func (OSFiles) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Glob lists the paths matching pattern, sorted.
func (OSFiles) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
