//! How much a guest may write to the server log and to the client.
//!
//! A guest writes through `pg.log` (every level) and, for components,
//! stdout and stderr. Each message becomes a log record whose size is the
//! message plus what PostgreSQL adds around it (the line prefix, the level,
//! the function's name); a loop of empty messages is therefore not free.
//! Every message is charged its length plus [`RECORD_OVERHEAD`] against two
//! budgets: one for the call and one for the statement. What does not fit
//! is dropped (a message that half fits is cut), and the embedding says
//! once how much it dropped.

/// What one record costs beyond its message: PostgreSQL's line prefix,
/// the level and pg_wasm's own prefix naming the function.
pub const RECORD_OVERHEAD: usize = 128;

/// A cut message is kept only if at least this much of it fits; less
/// would be noise.
const SHORTEST_CUT: usize = 64;

/// The two budgets, in bytes (0: nothing may be written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogLimits {
    pub per_call: usize,
    pub per_statement: usize,
}

/// What one scope (a call, a statement) has written and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogUse {
    /// Bytes charged (messages plus their records' overhead).
    pub written: usize,
    /// Bytes of messages dropped, whole or in part.
    pub dropped: usize,
    /// Messages dropped whole or cut.
    pub dropped_messages: usize,
}

/// What to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Write it whole.
    All,
    /// Write its first `n` bytes (the embedding cuts at a character
    /// boundary at or below `n` and says it was cut).
    Prefix(usize),
    /// Drop it.
    Nothing,
}

/// Charges a message of weight `len` ([`weight`]) to both scopes and says
/// how much of it may be written.
pub fn admit(limits: LogLimits, call: &mut LogUse, statement: &mut LogUse, len: usize) -> Admit {
    let room = limits
        .per_call
        .saturating_sub(call.written)
        .min(limits.per_statement.saturating_sub(statement.written));
    let cost = len.saturating_add(RECORD_OVERHEAD);
    let (admit, charged, dropped) = if cost <= room {
        (Admit::All, cost, 0)
    } else if room >= RECORD_OVERHEAD + SHORTEST_CUT {
        let keep = room - RECORD_OVERHEAD;
        (Admit::Prefix(keep), room, len - keep)
    } else {
        (Admit::Nothing, 0, len)
    };
    for scope in [call, statement] {
        scope.written += charged;
        if admit != Admit::All {
            scope.dropped += dropped;
            scope.dropped_messages += 1;
        }
    }
    admit
}

/// What `text` costs in the log: its bytes, plus one for each line break
/// (PostgreSQL indents every continuation line with a tab).
pub fn weight(text: &str) -> usize {
    text.len() + text.bytes().filter(|&b| b == b'\n').count()
}

/// The longest prefix of `text` whose [`weight`] is at most `n`, ending on
/// a character boundary.
pub fn cut(text: &str, n: usize) -> &str {
    if weight(text) <= n {
        return text;
    }
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += c.len_utf8() + usize::from(c == '\n');
        if used > n {
            return &text[..i];
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: LogLimits = LogLimits {
        per_call: 1000,
        per_statement: 2500,
    };

    #[test]
    fn small_messages_are_written_whole_until_the_call_budget_is_spent() {
        let (mut call, mut stmt) = (LogUse::default(), LogUse::default());
        let mut written = 0;
        for _ in 0..100 {
            if admit(LIMITS, &mut call, &mut stmt, 0) == Admit::All {
                written += 1;
            }
        }
        // Empty messages still cost their record: 1000 / 128 = 7.
        assert_eq!(written, 7);
        assert_eq!(call.dropped_messages, 93);
        assert!(call.written <= LIMITS.per_call);
    }

    #[test]
    fn a_long_message_is_cut_to_what_is_left() {
        let (mut call, mut stmt) = (LogUse::default(), LogUse::default());
        assert_eq!(
            admit(LIMITS, &mut call, &mut stmt, 5000),
            Admit::Prefix(1000 - RECORD_OVERHEAD)
        );
        assert_eq!(call.written, 1000);
        assert_eq!(call.dropped, 5000 - (1000 - RECORD_OVERHEAD));
        assert_eq!(admit(LIMITS, &mut call, &mut stmt, 1), Admit::Nothing);
    }

    #[test]
    fn the_statement_budget_spans_calls() {
        let mut stmt = LogUse::default();
        let mut total = 0;
        for _ in 0..10 {
            let mut call = LogUse::default();
            while admit(LIMITS, &mut call, &mut stmt, 100) != Admit::Nothing {}
            total += call.written;
        }
        assert_eq!(total, stmt.written);
        assert!(stmt.written <= LIMITS.per_statement);
        assert!(stmt.written > LIMITS.per_statement - RECORD_OVERHEAD - 100);
    }

    #[test]
    fn zero_limits_write_nothing() {
        let limits = LogLimits {
            per_call: 0,
            per_statement: 0,
        };
        let (mut call, mut stmt) = (LogUse::default(), LogUse::default());
        assert_eq!(admit(limits, &mut call, &mut stmt, 3), Admit::Nothing);
        assert_eq!(stmt.dropped, 3);
    }

    #[test]
    fn cut_keeps_whole_characters_and_counts_line_breaks_twice() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
        assert_eq!(weight("a\nb"), 4);
        assert_eq!(cut("\n\n\n\n", 5), "\n\n");
    }
}
