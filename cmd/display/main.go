// Command display is the cabin screen: it shows the floor, the direction and
// the building's notices it receives from the agent's live feed, and keeps
// showing the last state while the agent is away. It tells the agent which
// notice it showed, in which language and for how long (proof of play,
// docs/SCREEN.md).
//
//	display [--socket /run/palier/agent.sock] [--config display.yaml] [--play-period 1m]
//	display --screenshot out.png --state state.json [--notices notices.json] [--config display.yaml] [--at RFC3339]
//	display --screenshot out.png --socket PATH     (what the running agent shows now)
//	display --version
//
// It needs a display server (X11 or Wayland); under none it says so and
// exits (run it under xvfb-run to render screenshots on a server).
package main

import (
	// For its side effect: without a display server it explains and exits
	// before ebiten's initialisation panics (its doc says why it runs first).
	_ "github.com/palier-lifts/palier/cmd/display/internal/needdisplay"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"
	_ "time/tzdata" // the cabin computer may lack /usr/share/zoneinfo

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/palier-lifts/palier/buildinfo"
	"github.com/palier-lifts/palier/livefeed"
	"github.com/palier-lifts/palier/shutdown"
	"github.com/palier-lifts/palier/ui"
	"github.com/palier-lifts/palier/ui/screen"
	"github.com/palier-lifts/palier/wire"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	socket     string
	config     string
	cacheDir   string
	mediaDir   string
	screenshot string
	state      string
	notices    string
	at         string
	windowed   bool
	debug      bool
	playPeriod time.Duration
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("display", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.socket, "socket", "/run/palier/agent.sock", "the agent's live feed `socket`")
	fs.StringVar(&o.config, "config", "", "display configuration `file` (YAML; default settings if empty)")
	fs.StringVar(&o.cacheDir, "cache", "", "`directory` where the last notice set is kept across restarts (none if empty)")
	fs.StringVar(&o.mediaDir, "media", "", "the agent's media cache `directory` (images named by SHA-256); placeholders if empty")
	fs.StringVar(&o.screenshot, "screenshot", "", "render one frame to this PNG `file` and exit (from --state, else from the agent on --socket)")
	fs.StringVar(&o.state, "state", "", "with --screenshot: cabin state JSON `file` (wire.State)")
	fs.StringVar(&o.notices, "notices", "", "with --screenshot: notice set JSON `file` (wire.NoticeSet)")
	fs.StringVar(&o.at, "at", "", "with --screenshot: the `time` to show (RFC 3339; default the state's time)")
	fs.BoolVar(&o.windowed, "windowed", false, "stay windowed even if the config asks for fullscreen")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	fs.DurationVar(&o.playPeriod, "play-period", ui.DefaultPlayPeriod, "span of one proof-of-play record sent to the agent (1s to 1h; shorter than a minute only for tests)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *version {
		fmt.Fprintln(stdout, "palier display", buildinfo.Version())
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "display: unexpected arguments %q\n", fs.Args())
		return 2
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := loadConfig(o.config)
	if err != nil {
		fmt.Fprintf(stderr, "display: %v\n", err)
		return 2
	}
	model, err := ui.NewModel(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "display: %v\n", err)
		return 2
	}
	if o.screenshot != "" {
		if err := screenshot(model, o); err != nil {
			fmt.Fprintf(stderr, "display: %v\n", err)
			return 1
		}
		return 0
	}
	if o.playPeriod < time.Second || o.playPeriod > time.Hour-ui.DefaultMaxPlayGap {
		fmt.Fprintf(stderr, "display: --play-period %s: want 1s to 59m55s\n", o.playPeriod)
		return 2
	}
	if o.state != "" || o.notices != "" || o.at != "" {
		fmt.Fprintln(stderr, "display: --state, --notices and --at go with --screenshot")
		return 2
	}
	if err := live(model, o, logger); err != nil {
		logger.Error("display stopped", "err", err)
		return 1
	}
	return 0
}

func newRenderer(o options) (*screen.Renderer, error) {
	r, err := screen.NewRenderer()
	if err != nil {
		return nil, err
	}
	if o.mediaDir != "" {
		r.Media = ui.MediaDir(o.mediaDir).Load
	}
	return r, nil
}

func loadConfig(path string) (ui.Config, error) {
	if path == "" {
		return ui.DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return ui.Config{}, fmt.Errorf("open config: %w", err)
	}
	defer f.Close()
	cfg, err := ui.ParseConfig(f)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// live follows the agent's feed and shows it until a signal.
func live(model *ui.Model, o options, logger *slog.Logger) error {
	sigCtx, stop := shutdown.OnSignal(logger)
	defer stop()
	// Its own cancel: the window may close without a signal, and the
	// subscriber must stop then too.
	ctx, cancel := context.WithCancel(sigCtx)
	defer cancel()

	var agentUp atomic.Bool
	cache := noticeCache{dir: o.cacheDir, log: logger}
	cached := cache.load()
	var cachedNotices atomic.Pointer[wire.NoticeSet]
	cachedNotices.Store(cached)

	sub := &livefeed.Subscriber{
		Path:   o.socket,
		Logger: logger.With("part", "livefeed"),
		OnLink: func(up bool) {
			agentUp.Store(up)
			ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see screen.Configure
		},
		Handle: func(m livefeed.Message) {
			if m.Type == livefeed.TypeNotices {
				cache.store(m.Notices)
			}
			if m.Type != livefeed.TypeKeepalive {
				ebiten.ScheduleFrame() //lint:ignore SA1019 frames only on demand, see screen.Configure
			}
		},
	}
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Run(ctx) }()

	r, err := newRenderer(o)
	if err != nil {
		return err
	}
	input := func() ui.Input {
		st, ns := sub.Last()
		if ns == nil {
			ns = cachedNotices.Load()
		}
		return ui.Input{State: st, Notices: ns, AgentUp: agentUp.Load(), Now: time.Now()}
	}
	source := func() ui.View { return model.View(input()) }
	// Proof of play: what is shown goes to the agent, a record per notice
	// and language per minute (ui.PlayRecorder). The last records are
	// queued when the window closes; they leave only if the connection
	// is still up then.
	playsDone := make(chan struct{})
	go func() {
		defer close(playsDone)
		rec := ui.NewPlayRecorder(model.Config())
		rec.Period = o.playPeriod
		recordPlays(ctx, model, rec, time.Second, input, sub.Played)
	}()
	g := screen.NewGame(r, source)
	g.Stop = func() bool { return ctx.Err() != nil }
	// The clock and the rotation turn on whole seconds: look once a second.
	go g.Wake(ctx, time.Second)
	cfg := model.Config()
	screen.Configure("Palier", source(), cfg.Fullscreen && !o.windowed)
	logger.Info("display starting", "socket", o.socket, "layout", cfg.Layout, "orientation", cfg.Orientation, "version", buildinfo.Version())
	err = ebiten.RunGame(g)
	cancel()
	<-playsDone
	<-subDone
	if err != nil && !errors.Is(err, ebiten.Termination) {
		return fmt.Errorf("run screen: %w", err)
	}
	return nil
}
