/** Every collection that files events, registered with the relay (src/events/log.ts) by importing it. */
import './transfers/events.ts';
import './income/events.ts';
import './auth/events.ts';
import './alertStates/service.ts';
