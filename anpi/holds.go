package anpi

import (
	"bytes"
	"context"
)

// holdsState is the engine state name of the held sends.
const holdsState = "rules.holds"

// savedHolds is what the Service knows of the held sends it keeps in the
// store (Store.EngineState): the rules state holds them in memory, and a
// restart would lose a hold whose document does not come again (one fed by
// the API or a stream; the JMA feed's backfill does bring its own back).
type savedHolds struct {
	loaded bool   // read from the store into the rules state
	saved  []byte // what the store holds (nil: nothing)
}

// loadHoldsLocked reads the held sends a previous run saved into the rules
// state, once, before the state is first used. Stored holds that cannot be
// read are logged and dropped: they must not stop the sends to come.
func (s *Service) loadHoldsLocked(ctx context.Context) error {
	if s.holds.loaded {
		return nil
	}
	data, err := s.st.EngineState(ctx, holdsState)
	if Code(err) == NotFound {
		s.holds.loaded = true
		return nil
	}
	if err != nil {
		return err
	}
	s.holds.loaded, s.holds.saved = true, data
	if err := s.state.UnmarshalJSON(data); err != nil {
		s.log.ErrorContext(ctx, "anpi: the held sends saved before are unreadable: dropped", "err", err)
		return nil
	}
	if due, ok := s.state.NextDue(); ok {
		s.log.InfoContext(ctx, "anpi: held sends restored", "nextDue", due)
	}
	return nil
}

// saveHoldsLocked saves the held sends when they changed since the last
// save (nothing when none are held). A failed save is logged and tried
// again after the next document or tick.
func (s *Service) saveHoldsLocked(ctx context.Context) {
	if !s.holds.loaded {
		return // never overwrite holds not read yet
	}
	var data []byte
	if _, held := s.state.NextDue(); held {
		var err error
		if data, err = s.state.MarshalHolds(); err != nil {
			s.log.ErrorContext(ctx, "anpi: held sends not saved", "err", err)
			return
		}
	}
	if bytes.Equal(data, s.holds.saved) {
		return
	}
	// Saved even when ctx has just ended (a shutdown after a tick).
	if err := s.st.PutEngineState(context.WithoutCancel(ctx), holdsState, data); err != nil {
		s.log.ErrorContext(ctx, "anpi: held sends not saved (tried again after the next document or tick)", "err", err)
		return
	}
	s.holds.saved = data
}
