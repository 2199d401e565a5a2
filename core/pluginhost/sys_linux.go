package pluginhost

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the plugin when the host dies, so a killed daemon
// never leaves a plugin holding the SQLite file or an HSM session.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
