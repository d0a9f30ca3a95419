package pack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrLocked: another fetch is writing the evidence pack directory.
var ErrLocked = errors.New("another fetch is writing this evidence pack")

// packLockName is the lock file a fetch holds in the pack's directory
// while it writes: two fetches into one directory would mix their files
// and both report a complete pack.
const packLockName = ".k8sverify-fetch.lock"

// lockPack takes the pack directory's lock: a file created exclusively,
// naming the process that holds it. A lock left by a process of this host
// that no longer runs (killed) is taken over.
func lockPack(root *os.Root, dir string) error {
	content := fmt.Sprintf("%d %s %s\n", os.Getpid(), hostname(), time.Now().UTC().Format(time.RFC3339))
	for attempt := 0; ; attempt++ {
		f, err := root.OpenFile(packLockName, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = f.WriteString(content)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("evidence pack %s: lock: %w", dir, err)
		}
		held, _ := fs.ReadFile(root.FS(), packLockName)
		if attempt == 0 && stale(string(held)) {
			_ = root.Remove(packLockName)
			continue
		}
		return fmt.Errorf("%w: %s (%s holds %s: process, host, since; remove it if no fetch runs)",
			ErrLocked, dir, strings.TrimSpace(string(held)), packLockName)
	}
}

// unlockPack releases the lock.
func unlockPack(root *os.Root) { _ = root.Remove(packLockName) }

// stale reports a lock of this host whose process no longer runs.
func stale(held string) bool {
	f := strings.Fields(held)
	if len(f) < 2 || f[1] != hostname() {
		return false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return true // Windows: no such process
	}
	if runtime.GOOS == "windows" {
		return false
	}
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown-host"
	}
	return strings.ReplaceAll(h, " ", "_")
}
