package ui

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palier-lifts/palier/configfile"
	"github.com/palier-lifts/palier/wire"
)

// Config is the display's configuration file (packaging/display.yaml).
type Config struct {
	// Building is the name shown at the top of the screen.
	Building string `yaml:"building"`
	// FloorLabels maps a controller floor number to what passengers read,
	// e.g. 0: RDC, -2: P. Floors not listed show their number.
	FloorLabels map[int]string `yaml:"floor_labels"`
	// TimeZone is an IANA zone name for the clock (default Europe/Monaco).
	TimeZone string `yaml:"time_zone"`
	// Layout is the logical resolution: 800x480, 1024x600, 1280x800 or 1920x1080.
	Layout string `yaml:"layout"`
	// Orientation is landscape or portrait (the layout's sides swapped).
	Orientation string `yaml:"orientation"`
	// Languages in rotation order, among fr, en, it (default all three).
	Languages []string `yaml:"languages"`
	// LanguagePeriod is how long each language stays on screen; a notice
	// stays for one period per language (default 6s).
	LanguagePeriod time.Duration `yaml:"language_period"`
	// Night, if set, dims the palette between two times of day.
	Night *Night `yaml:"night"`
	// PixelShift is the largest burn-in shift in logical pixels (0 disables,
	// default 3); the picture moves one step every ShiftPeriod.
	PixelShift  *int          `yaml:"pixel_shift"`
	ShiftPeriod time.Duration `yaml:"shift_period"`
	// Fullscreen starts the window fullscreen and hides the cursor (kiosk).
	Fullscreen bool `yaml:"fullscreen"`
	// ShowConnectivity draws the installers' connectivity mark (default true).
	ShowConnectivity *bool `yaml:"show_connectivity"`
}

// Night is a daily window, "HH:MM" to "HH:MM" in the configured time zone;
// it may span midnight.
type Night struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Layouts the screen knows, in logical units (landscape).
var layouts = map[string][2]int{
	"800x480":   {800, 480},
	"1024x600":  {1024, 600},
	"1280x800":  {1280, 800},
	"1920x1080": {1920, 1080},
}

// DefaultConfig returns the configuration used when no file is given.
func DefaultConfig() Config {
	return Config{
		TimeZone:       "Europe/Monaco",
		Layout:         "800x480",
		Orientation:    "landscape",
		Languages:      []string{wire.LangFR, wire.LangEN, wire.LangIT},
		LanguagePeriod: 6 * time.Second,
		ShiftPeriod:    5 * time.Minute,
	}
}

// maxConfigSize bounds the config file; a real one is under a KiB.
const maxConfigSize = 1 << 20

// ParseConfig reads a YAML configuration over the defaults
// (configfile.Decode) and validates it. Unknown keys are errors, so a typo
// is reported instead of silently ignored; an empty file is the defaults.
func ParseConfig(r io.Reader) (Config, error) {
	cfg := DefaultConfig()
	if err := configfile.Decode(r, maxConfigSize, &cfg); err != nil && !errors.Is(err, configfile.ErrEmpty) {
		return cfg, fmt.Errorf("parse display config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Validate checks every field and says what would be valid: all problems
// (configfile.Problems), each a *configfile.FieldError, under "display
// config".
func (c *Config) Validate() error {
	var p configfile.Problems
	bad := p.Add
	if len([]rune(c.Building)) > 80 {
		bad("building", "longer than 80 characters")
	}
	// Sorted, so that the problems come out in the same order each time.
	for _, f := range slices.Sorted(maps.Keys(c.FloorLabels)) {
		if l := c.FloorLabels[f]; len([]rune(l)) == 0 || len([]rune(l)) > 4 {
			bad(fmt.Sprintf("floor_labels[%d]", f), "%q: want 1 to 4 characters", l)
		}
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		bad("time_zone", "%q is not an IANA time zone (e.g. Europe/Monaco)", c.TimeZone)
	}
	if _, ok := layouts[c.Layout]; !ok {
		bad("layout", "%q: want 800x480, 1024x600, 1280x800 or 1920x1080", c.Layout)
	}
	if c.Orientation != "landscape" && c.Orientation != "portrait" {
		bad("orientation", "%q: want landscape or portrait", c.Orientation)
	}
	if len(c.Languages) == 0 {
		bad("languages", "empty: want one or more of fr, en, it")
	}
	seen := map[string]bool{}
	for _, l := range c.Languages {
		if l != wire.LangFR && l != wire.LangEN && l != wire.LangIT {
			bad("languages", "%q: want fr, en or it", l)
		} else if seen[l] {
			bad("languages", "%q listed twice", l)
		}
		seen[l] = true
	}
	if c.LanguagePeriod < time.Second {
		bad("language_period", "%s: want at least 1s", c.LanguagePeriod)
	}
	if c.Night != nil {
		if _, err := parseHHMM(c.Night.From); err != nil {
			bad("night.from", "%v", err)
		}
		if _, err := parseHHMM(c.Night.To); err != nil {
			bad("night.to", "%v", err)
		}
	}
	if c.PixelShift != nil && (*c.PixelShift < 0 || *c.PixelShift > 16) {
		bad("pixel_shift", "%d: want 0 to 16 logical pixels", *c.PixelShift)
	}
	if c.ShiftPeriod < time.Second {
		bad("shift_period", "%s: want at least 1s", c.ShiftPeriod)
	}
	if err := p.Err(); err != nil {
		return fmt.Errorf("display config: %w", err)
	}
	return nil
}

// Size returns the logical width and height, orientation applied.
func (c *Config) Size() (w, h int) {
	wh, ok := layouts[c.Layout]
	if !ok {
		wh = layouts["800x480"]
	}
	if c.Orientation == "portrait" {
		return wh[1], wh[0]
	}
	return wh[0], wh[1]
}

// parseHHMM returns minutes since midnight.
func parseHHMM(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q: want HH:MM, e.g. 22:30", s)
	}
	return hh*60 + mm, nil
}
