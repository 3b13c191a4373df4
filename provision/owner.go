package provision

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// owner is the agent's user, or -1s when files keep the caller's.
type owner struct{ uid, gid int }

func lookupOwner(name string) owner {
	if os.Geteuid() != 0 {
		return owner{-1, -1}
	}
	u, err := user.Lookup(name)
	if err != nil {
		return owner{-1, -1}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return owner{-1, -1}
	}
	return owner{uid, gid}
}

// configOwnership keeps an existing config's mode and owner; a new one is
// root's, readable by the agent's group.
func configOwnership(path string, o owner) (os.FileMode, int, int) {
	st, err := os.Stat(path)
	if err != nil {
		return 0o640, -1, o.gid
	}
	uid, gid := -1, -1
	if s, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		uid, gid = int(s.Uid), int(s.Gid)
	}
	return st.Mode().Perm(), uid, gid
}
