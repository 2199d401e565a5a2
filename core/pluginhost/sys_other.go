//go:build !linux

package pluginhost

import (
	"os"
	"os/exec"
)

// setDeathSignal: plugins watch their parent instead (sdk.Serve).
func setDeathSignal(*exec.Cmd) {}

func killPid(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}
