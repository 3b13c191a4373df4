package outbox

import (
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's on-disk meta page, as bbolt writes it (native byte order): a 16-byte
// page header, then magic, version, page size, flags, root bucket (16 bytes),
// freelist page, high-water page id, txid and an FNV-64a checksum of the
// fields before it.
const (
	boltMagic     = 0xED0CDAED
	boltVersion   = 2
	metaOff       = 16
	metaSumOff    = metaOff + 56
	metaPgidOff   = metaOff + 40
	metaPageSzOff = metaOff + 8
)

type rawMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

func parseMeta(page []byte) (rawMeta, bool) {
	if len(page) < metaSumOff+8 {
		return rawMeta{}, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(page[metaOff:]) != boltMagic || ne.Uint32(page[metaOff+4:]) != boltVersion {
		return rawMeta{}, false
	}
	h := fnv.New64a()
	h.Write(page[metaOff:metaSumOff])
	if h.Sum64() != ne.Uint64(page[metaSumOff:]) {
		return rawMeta{}, false
	}
	return rawMeta{
		pageSize: ne.Uint32(page[metaPageSzOff:]),
		root:     ne.Uint64(page[metaOff+16:]),
		freelist: ne.Uint64(page[metaOff+32:]),
		pgid:     ne.Uint64(page[metaPgidOff:]),
		txid:     ne.Uint64(page[metaOff+48:]),
	}, true
}

// precheck rejects a file shorter than its own valid meta pages say. bbolt
// maps the file and would read the missing pages past its end, which kills
// the process with SIGBUS instead of returning an error; a truncated file
// (a file system that lost its tail) must instead be set aside.
func precheck(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nil // bbolt will report it with context
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	// bbolt would take either as a new, empty database and the entries
	// that were pending would be gone without a word.
	if fi.IsDir() {
		return damaged("a directory stands where the outbox file should be")
	}
	if fi.Size() == 0 {
		return damaged("the file is empty (0 bytes): cut by a power loss or a full disk")
	}
	buf := make([]byte, 2*65536)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil
	}
	buf = buf[:n]
	var metas []rawMeta
	ps := os.Getpagesize()
	if m, ok := parseMeta(buf); ok {
		metas = append(metas, m)
		ps = int(m.pageSize)
	}
	if ps > 0 && ps < len(buf) {
		if m, ok := parseMeta(buf[ps:]); ok {
			metas = append(metas, m)
		}
	}
	var newest *rawMeta
	for i, m := range metas {
		if m.pageSize < 512 || m.pageSize > 65536 {
			return damaged("meta page: page size %d", m.pageSize)
		}
		if need := m.pgid * uint64(m.pageSize); need > uint64(fi.Size()) || m.pgid < 2 {
			return damaged("file is %d bytes but its meta page covers %d: truncated", fi.Size(), need)
		}
		if newest == nil || m.txid > newest.txid {
			newest = &metas[i]
		}
	}
	if newest == nil {
		return nil // bbolt reports an invalid file itself
	}
	w := &rawWalker{f: f, ps: int64(newest.pageSize), hw: newest.pgid, seen: map[uint64]bool{}}
	if newest.freelist != ^uint64(0) {
		if err := w.freelist(newest.freelist); err != nil {
			return err
		}
	}
	return w.page(newest.root, 0)
}

// Page layout (bbolt internal/common/page.go): header id(8) flags(2)
// count(2) overflow(4); branch elements pos(4) ksize(4) pgid(8); leaf
// elements flags(4) pos(4) ksize(4) vsize(4); pos is relative to the element.
const (
	pageHeader     = 16
	elemSize       = 16
	branchPageFlag = 0x01
	leafPageFlag   = 0x02
	freelistFlag   = 0x10
	bucketLeafFlag = 0x01
	maxTreeDepth   = 64
)

// rawWalker checks that every element of every page reachable from the root
// points inside its page, reading the file with ReadAt. bbolt's own Check
// dereferences those offsets in a goroutine of its own, where a wild offset
// is a fatal fault rather than a recoverable panic.
type rawWalker struct {
	f    *os.File
	ps   int64
	hw   uint64
	seen map[uint64]bool
}

func (w *rawWalker) read(id uint64) ([]byte, error) {
	if id < 2 || id >= w.hw {
		return nil, damaged("page %d outside 2..%d", id, w.hw)
	}
	hdr := make([]byte, pageHeader)
	if _, err := w.f.ReadAt(hdr, int64(id)*w.ps); err != nil {
		return nil, damaged("read page %d: %v", id, err)
	}
	overflow := uint64(binary.NativeEndian.Uint32(hdr[12:]))
	if id+overflow >= w.hw {
		return nil, damaged("page %d overflows past %d", id, w.hw)
	}
	b := make([]byte, int64(overflow+1)*w.ps)
	if _, err := w.f.ReadAt(b, int64(id)*w.ps); err != nil {
		return nil, damaged("read page %d: %v", id, err)
	}
	return b, nil
}

func (w *rawWalker) freelist(id uint64) error {
	b, err := w.read(id)
	if err != nil {
		return err
	}
	if flags := binary.NativeEndian.Uint16(b[8:]); flags&freelistFlag == 0 {
		return damaged("freelist page %d has flags %#x", id, flags)
	}
	count, start := uint64(binary.NativeEndian.Uint16(b[10:])), uint64(pageHeader)
	if count == 0xFFFF {
		if len(b) < pageHeader+8 {
			return damaged("freelist page %d too short", id)
		}
		count, start = binary.NativeEndian.Uint64(b[pageHeader:]), pageHeader+8
	}
	if count > uint64(len(b)) || start+count*8 > uint64(len(b)) {
		return damaged("freelist page %d: %d ids do not fit", id, count)
	}
	return nil
}

func (w *rawWalker) page(id uint64, depth int) error {
	if depth > maxTreeDepth || w.seen[id] {
		return damaged("page %d reached twice or tree deeper than %d", id, maxTreeDepth)
	}
	w.seen[id] = true
	b, err := w.read(id)
	if err != nil {
		return err
	}
	return w.elements(id, b, depth)
}

// elements checks the elements of page b (a file page or an inline bucket).
func (w *rawWalker) elements(id uint64, b []byte, depth int) error {
	ne := binary.NativeEndian
	if len(b) < pageHeader {
		return damaged("page %d: %d bytes", id, len(b))
	}
	flags, count := ne.Uint16(b[8:]), int(ne.Uint16(b[10:]))
	if pageHeader+count*elemSize > len(b) {
		return damaged("page %d: %d elements do not fit", id, count)
	}
	for i := range count {
		e := pageHeader + i*elemSize
		switch {
		case flags&branchPageFlag != 0:
			pos, ksize := uint64(ne.Uint32(b[e:])), uint64(ne.Uint32(b[e+4:]))
			if uint64(e)+pos+ksize > uint64(len(b)) {
				return damaged("page %d element %d: key outside the page", id, i)
			}
			if err := w.page(ne.Uint64(b[e+8:]), depth+1); err != nil {
				return err
			}
		case flags&leafPageFlag != 0:
			eflags := ne.Uint32(b[e:])
			pos, ksize, vsize := uint64(ne.Uint32(b[e+4:])), uint64(ne.Uint32(b[e+8:])), uint64(ne.Uint32(b[e+12:]))
			start := uint64(e) + pos
			if start+ksize+vsize > uint64(len(b)) {
				return damaged("page %d element %d: key or value outside the page", id, i)
			}
			if eflags&bucketLeafFlag == 0 {
				continue
			}
			v := b[start+ksize : start+ksize+vsize]
			if len(v) < 16 {
				return damaged("page %d element %d: bucket header of %d bytes", id, i, len(v))
			}
			if root := ne.Uint64(v); root != 0 {
				if err := w.page(root, depth+1); err != nil {
					return err
				}
			} else if err := w.elements(id, v[16:], depth+1); err != nil {
				return err
			}
		default:
			return damaged("page %d: flags %#x, want a branch or leaf page", id, flags)
		}
	}
	return nil
}
