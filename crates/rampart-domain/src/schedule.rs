//! RFC 5545 recurrence rules (to be written).
