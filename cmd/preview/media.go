//go:build js && wasm

package main

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"syscall/js"

	"github.com/palier-lifts/palier/ui"
)

// maxPictures bounds the decoded pictures kept between previews; they are
// named by their SHA-256, so a kept one is never stale.
const maxPictures = 8

// mediaCache fetches notice pictures from the receiver and keeps the ones
// that decoded; the renderer's loader reads it.
type mediaCache struct {
	mu   sync.Mutex
	imgs map[string]image.Image
}

func newMediaCache() *mediaCache { return &mediaCache{imgs: make(map[string]image.Image)} }

// load is the renderer's Media loader: a picture fetch did not keep is
// missing, and the screen draws its placeholder.
func (c *mediaCache) load(sha string) (image.Image, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if img, ok := c.imgs[sha]; ok {
		return img, nil
	}
	return nil, ui.ErrMediaMissing
}

// fetch gets /media/{sha} unless kept; a failure is told on the console
// and leaves the picture missing.
func (c *mediaCache) fetch(sha string) {
	c.mu.Lock()
	_, ok := c.imgs[sha]
	c.mu.Unlock()
	if ok {
		return
	}
	b, err := fetchBytes("/media/"+sha, ui.MaxMediaBytes)
	var img image.Image
	if err == nil {
		img, err = ui.VerifyMedia(sha, b)
	}
	if err != nil {
		js.Global().Get("console").Call("warn", fmt.Sprintf("palier preview: picture %s drawn as missing: %v", sha, err))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.imgs) >= maxPictures {
		clear(c.imgs)
	}
	c.imgs[sha] = img
}

// fetchTimeout bounds one picture's download, in milliseconds.
const fetchTimeout = 20000

// fetchBytes GETs a same-origin URL with the browser's fetch and reads at
// most limit bytes of its body.
func fetchBytes(url string, limit int) ([]byte, error) {
	opts := js.Global().Get("Object").New()
	opts.Set("credentials", "same-origin")
	opts.Set("signal", js.Global().Get("AbortSignal").Call("timeout", fetchTimeout))
	resp, err := await(js.Global().Call("fetch", url, opts))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", url, err)
	}
	if status := resp.Get("status").Int(); status != 200 {
		if status == 404 {
			return nil, fmt.Errorf("fetch %s: %w", url, ui.ErrMediaMissing)
		}
		return nil, fmt.Errorf("fetch %s: HTTP status %d", url, status)
	}
	reader := resp.Get("body").Call("getReader")
	var out []byte
	for {
		chunk, err := await(reader.Call("read"))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", url, err)
		}
		if chunk.Get("done").Bool() {
			return out, nil
		}
		v := chunk.Get("value")
		n := v.Get("length").Int()
		if len(out)+n > limit {
			reader.Call("cancel")
			return nil, fmt.Errorf("read %s: more than %d bytes", url, limit)
		}
		buf := make([]byte, n)
		js.CopyBytesToGo(buf, v)
		out = append(out, buf...)
	}
}

// await waits for a JS promise. The callbacks are released once it
// settles: a promise settles once, and fetch's is bounded by its signal.
func await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	var then, catch js.Func
	then = js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- result{v: a[0]}
		return nil
	})
	catch = js.FuncOf(func(_ js.Value, a []js.Value) any {
		msg := "rejected"
		if len(a) > 0 && a[0].Truthy() {
			msg = a[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}
