// Package ui decides what the cabin screen shows; it draws nothing.
//
// A Model turns an Input (the live cabin state, the building's notice set,
// whether the agent is reachable, and the time) into a View: the floor label,
// the direction arrow and its animation frame, the building name, the date
// and time in the building's time zone, the notice in rotation (those whose
// validity window and schedule hold on that clock) and its language, the urgent banner, the overlay for the cabin's situation (alarm,
// inspection, fire service, out of service, overload), the connectivity mark,
// and the kiosk settings (night dimming, burn-in pixel shift).
//
// Everything is a pure function of the Input and the Config: rotation and
// animation are derived from the clock, not from hidden counters, so a View
// is reproducible in tests and two equal Views need no redraw. Views are
// comparable with ==; the drawing (package ui/screen) redraws only when the
// View changes.
//
// A PlayRecorder observes the Views on screen and turns them into proof of
// play records (wire.NoticeShownData): which notice of which set version,
// in which language, how long and how many times, one record per notice
// and language per period. The display sends them to the agent.
//
// This package must not import ebiten: the agent side builds with
// CGO_ENABLED=0.
package ui
