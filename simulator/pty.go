package simulator

import (
	"errors"
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal pair standing in for a serial line: the
// simulator reads and writes the master side, the agent opens the slave
// path (Path) as if it were /dev/ttyUSB0.
type PTY struct {
	master *os.File
	// slave stays open for the PTY's life: with no slave fd open, reads on
	// the master fail with EIO each time the agent closes and reopens.
	slave *os.File
	path  string
	link  string
}

// OpenPTY creates a pseudo-terminal in raw mode. With link non-empty it
// also creates a symlink at link pointing to the slave path, so scripts
// have a stable name (an existing symlink there is replaced).
func OpenPTY(link string) (*PTY, error) {
	m, s, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	p := &PTY{master: m, slave: s, path: s.Name()}
	// Raw right away: no echo, no line editing, no CR/LF translation, or
	// the agent would read its own requests back.
	if err := makeRaw(int(s.Fd())); err != nil {
		p.Close()
		return nil, fmt.Errorf("raw mode on %s: %w", p.path, err)
	}
	if link != "" {
		if fi, err := os.Lstat(link); err == nil {
			if fi.Mode()&os.ModeSymlink == 0 {
				p.Close()
				return nil, fmt.Errorf("pty link %s exists and is not a symlink", link)
			}
			if err := os.Remove(link); err != nil {
				p.Close()
				return nil, fmt.Errorf("replace pty link %s: %w", link, err)
			}
		}
		if err := os.Symlink(p.path, link); err != nil {
			p.Close()
			return nil, fmt.Errorf("create pty link %s: %w", link, err)
		}
		p.link = link
	}
	return p, nil
}

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Path is the slave device path the agent opens (e.g. /dev/pts/3).
func (p *PTY) Path() string { return p.path }

// Read reads from the master side.
func (p *PTY) Read(b []byte) (int, error) { return p.master.Read(b) }

// Write writes to the master side.
func (p *PTY) Write(b []byte) (int, error) { return p.master.Write(b) }

// Close closes both sides and removes the link.
func (p *PTY) Close() error {
	var errs []error
	if p.link != "" {
		if err := os.Remove(p.link); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := p.master.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := p.slave.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close pty %s: %w", p.path, err)
	}
	return nil
}
