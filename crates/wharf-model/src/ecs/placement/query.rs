//! The ECS cluster query language: the expressions of `memberOf` placement
//! constraints (and of ListContainerInstances' `filter`), parsed once and
//! evaluated against each container instance.
//!
//! An expression is `subject operator [argument]`, combined with
//! `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. `not` binds tighter
//! than `and`, which binds tighter than `or`, so `a or b and not c` reads
//! `a or (b and (not c))`.
//!
//! What the ECS Developer Guide ("Create expressions to define container
//! instances for Amazon ECS tasks") leaves open, decided here:
//!
//! - Keywords (subjects' fixed names, word operators, `and`/`or`/`not`) are
//!   matched case-insensitively; attribute names and values are not.
//! - A value is a run of characters up to white space or one of `( ) [ ] ,`
//!   (or `&&`/`||`), or a quoted string (`'…'` or `"…"`, where `\'`, `\"`
//!   and `\\` stand for the character). Quote a regular expression that has
//!   parentheses or brackets in it.
//! - `*` has no meaning of its own in a value: the guide describes no
//!   wildcard for `==` or `in`, only Java regular expressions for `=~`
//!   (`attribute:ecs.instance-type =~ g2.*`). A pattern must match the whole
//!   value, as Java's `String.matches` does.
//! - A comparison with a subject the instance lacks is false, negated ones
//!   too: the guide's `attribute:stack != prod` lists instances that have a
//!   `stack` attribute whose value is not `prod`. Only `!exists` is true
//!   for a missing subject.
//! - `>`, `>=`, `<`, `<=` compare attribute values as numbers when both
//!   sides are numbers, else as strings; `agentVersion` compares dotted
//!   version numbers (`1.14.5`), `runningTasksCount` whole numbers, and
//!   `registeredAt` times, truncated to the precision of the argument (a
//!   date compares by UTC day, so `registeredAt == 2018-02-13` is that day).
//! - `task:group` is true when a task on the instance has a group for which
//!   the comparison holds (the guide writes anti-affinity as
//!   `not(task:group == database)`); `exists` means the instance has tasks.
//! - Each subject takes the operators the guide lists for it; another
//!   operator is an error rather than a silent `false`.

use std::cmp::Ordering;

/// The longest expression ECS accepts, in characters.
pub const MAX_LENGTH: usize = 2000;

/// How deep parentheses and `not` may nest.
const MAX_DEPTH: usize = 64;

/// What an expression can ask about one container instance.
pub trait Facts {
    /// `None` when the instance lacks the attribute; `Some(None)` when it
    /// has it without a value.
    fn attribute(&self, name: &str) -> Option<Option<&str>>;
    /// Its EC2 instance ID.
    fn ec2_instance_id(&self) -> Option<&str>;
    /// Whether its agent is connected.
    fn agent_connected(&self) -> bool;
    /// Its agent's version (`versionInfo.agentVersion`).
    fn agent_version(&self) -> Option<&str>;
    /// When it registered, in milliseconds since the epoch.
    fn registered_at_ms(&self) -> Option<i64>;
    /// How many of its tasks are `RUNNING`.
    fn running_tasks_count(&self) -> i64;
    /// The groups of its tasks not yet stopped.
    fn task_groups(&self) -> &super::TaskGroups;
}

/// A parsed expression, compared by its text.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    node: Node,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for Expression {}

/// Why an expression was refused: the message names the field, and the
/// position (in characters, from 1) where reading stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where in the expression, counting characters from 1; `None` when the
    /// fault is the whole expression (its length).
    pub position: Option<usize>,
    /// What was wrong there.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some(p) => write!(
                f,
                "placementConstraints.expression is invalid at position {p}: {}",
                self.message
            ),
            None => write!(f, "placementConstraints.expression {}", self.message),
        }
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone)]
enum Node {
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Test(Comparison),
}

#[derive(Debug, Clone)]
struct Comparison {
    subject: Subject,
    op: Op,
    arg: Arg,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Attribute(String),
    Ec2InstanceId,
    AgentConnected,
    AgentVersion,
    RegisteredAt,
    RunningTasksCount,
    TaskGroup,
}

impl Subject {
    fn name(&self) -> String {
        match self {
            Self::Attribute(a) => format!("attribute:{a}"),
            Self::Ec2InstanceId => "ec2InstanceId".into(),
            Self::AgentConnected => "agentConnected".into(),
            Self::AgentVersion => "agentVersion".into(),
            Self::RegisteredAt => "registeredAt".into(),
            Self::RunningTasksCount => "runningTasksCount".into(),
            Self::TaskGroup => "task:group".into(),
        }
    }

    /// The operators the guide lists for this subject.
    fn allows(&self, op: Op) -> bool {
        use Op::*;
        match self {
            Self::Attribute(_) | Self::TaskGroup => true,
            Self::AgentConnected | Self::Ec2InstanceId => {
                matches!(op, Eq | Ne | In | NotIn | Matches | NotMatches)
            }
            Self::AgentVersion | Self::RegisteredAt | Self::RunningTasksCount => {
                matches!(op, Eq | Ne | Gt | Ge | Lt | Le)
            }
        }
    }

    fn allowed(&self) -> &'static str {
        match self {
            Self::Attribute(_) | Self::TaskGroup => "any",
            Self::AgentConnected | Self::Ec2InstanceId => "==, !=, in, !in, =~, !~",
            _ => "==, !=, >, >=, <, <=",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Exists,
    NotExists,
    In,
    NotIn,
    Matches,
    NotMatches,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Exists => "exists",
            Self::NotExists => "!exists",
            Self::In => "in",
            Self::NotIn => "!in",
            Self::Matches => "=~",
            Self::NotMatches => "!~",
        }
    }

    /// Whether an ordering satisfies this comparison operator.
    fn holds(self, o: Ordering) -> bool {
        match self {
            Self::Eq => o == Ordering::Equal,
            Self::Ne => o != Ordering::Equal,
            Self::Gt => o == Ordering::Greater,
            Self::Ge => o != Ordering::Less,
            Self::Lt => o == Ordering::Less,
            Self::Le => o != Ordering::Greater,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Literal {
    Text(String),
    Count(i64),
    Version(Vec<u64>),
    /// Milliseconds, and whether only a date was given.
    Time(i64, bool),
}

#[derive(Debug, Clone)]
enum Arg {
    None,
    One(Literal),
    List(Vec<Literal>),
    Pattern(regex_lite::Regex),
}

impl Expression {
    /// Reads an expression, or says where and why it cannot be read.
    pub fn parse(source: &str) -> Result<Self, ParseError> {
        if source.chars().count() > MAX_LENGTH {
            return Err(ParseError {
                position: None,
                message: format!("can have a maximum length of {MAX_LENGTH} characters."),
            });
        }
        let mut p = Parser { chars: source.chars().collect(), pos: 0, depth: 0 };
        let node = p.or()?;
        p.skip_ws();
        if p.pos < p.chars.len() {
            return Err(p.error("expected and, or, or the end of the expression"));
        }
        Ok(Self { source: source.to_owned(), node })
    }

    /// The text it was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the instance is a member of the group this expression names.
    pub fn matches<F: Facts + ?Sized>(&self, facts: &F) -> bool {
        eval(&self.node, facts)
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

fn eval<F: Facts + ?Sized>(node: &Node, f: &F) -> bool {
    match node {
        Node::Not(n) => !eval(n, f),
        Node::And(ns) => ns.iter().all(|n| eval(n, f)),
        Node::Or(ns) => ns.iter().any(|n| eval(n, f)),
        Node::Test(c) => test(c, f),
    }
}

fn test<F: Facts + ?Sized>(c: &Comparison, f: &F) -> bool {
    match &c.subject {
        Subject::Attribute(name) => {
            let found = f.attribute(name);
            match c.op {
                Op::Exists => found.is_some(),
                Op::NotExists => found.is_none(),
                _ => found.flatten().is_some_and(|v| text(v, c.op, &c.arg)),
            }
        }
        Subject::TaskGroup => {
            let groups = f.task_groups();
            match c.op {
                Op::Exists => !groups.is_empty(),
                Op::NotExists => groups.is_empty(),
                _ => groups.names().any(|g| text(g, c.op, &c.arg)),
            }
        }
        Subject::Ec2InstanceId => f.ec2_instance_id().is_some_and(|v| text(v, c.op, &c.arg)),
        Subject::AgentConnected => {
            text(if f.agent_connected() { "true" } else { "false" }, c.op, &c.arg)
        }
        Subject::AgentVersion => match (&c.arg, f.agent_version().and_then(version)) {
            (Arg::One(Literal::Version(want)), Some(have)) => {
                c.op.holds(compare_versions(&have, want))
            }
            _ => false,
        },
        Subject::RunningTasksCount => match &c.arg {
            Arg::One(Literal::Count(want)) => c.op.holds(f.running_tasks_count().cmp(want)),
            _ => false,
        },
        Subject::RegisteredAt => match (&c.arg, f.registered_at_ms()) {
            (Arg::One(Literal::Time(want, day_only)), Some(have)) => {
                let unit = if *day_only { 86_400_000 } else { 1000 };
                c.op.holds((have.div_euclid(unit) * unit).cmp(want))
            }
            _ => false,
        },
    }
}

/// A string comparison: equality, lists, patterns, and ordering as numbers
/// when both sides are numbers.
fn text(value: &str, op: Op, arg: &Arg) -> bool {
    let same = |l: &Literal| matches!(l, Literal::Text(t) if t == value);
    match (op, arg) {
        (Op::In, Arg::List(list)) => list.iter().any(same),
        (Op::NotIn, Arg::List(list)) => !list.iter().any(same),
        (Op::Matches, Arg::Pattern(r)) => r.is_match(value),
        (Op::NotMatches, Arg::Pattern(r)) => !r.is_match(value),
        (Op::Eq | Op::Ne, Arg::One(Literal::Text(t))) => op.holds(value.cmp(t)),
        (Op::Gt | Op::Ge | Op::Lt | Op::Le, Arg::One(Literal::Text(t))) => {
            let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite());
            let order = match (number(value), number(t)) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
                _ => value.cmp(t),
            };
            op.holds(order)
        }
        _ => false,
    }
}

/// `1.14.5` (or `v1.14.5`) as its numbers.
fn version(s: &str) -> Option<Vec<u64>> {
    let s = s.trim();
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    s.split('.')
        .map(|part| {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse::<u64>().ok())
                .flatten()
        })
        .collect()
}

/// Compares versions number by number, a missing number counting as 0.
fn compare_versions(a: &[u64], b: &[u64]) -> Ordering {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| a.get(i).copied().unwrap_or(0).cmp(&b.get(i).copied().unwrap_or(0)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

use crate::clock::days_from_civil;

/// The date forms the guide lists: `2018-06-18T22:28:28+00:00`,
/// `2018-06-18T22:28:28Z`, `2018-06-18T22:28:28` (UTC) and `2018-06-18`;
/// milliseconds since the epoch and whether only a date was given.
fn time(s: &str) -> Option<(i64, bool)> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| std::str::from_utf8(part).ok()?.parse().ok())?
    };
    let (y, m, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&m) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d < 1 || d > month_days[(m - 1) as usize] {
        return None;
    }
    let day_ms = days_from_civil(y, m, d) * 86_400_000;
    if b.len() == 10 {
        return Some((day_ms, true));
    }
    if !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let offset_min = match &b[19..] {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(20, 2)?, num(23, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 60 + om;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    Some((day_ms + ((h * 60 + mi - offset_min) * 60 + sec) * 1000, false))
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

/// Characters of a subject: attribute names take letters, digits, `-`,
/// `_`, `/`, `\` and `.`; `:` joins `attribute:` and `task:group`.
fn subject_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '\\' | '.' | ':')
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let message = message.into();
        let found = match self.chars.get(pos) {
            Some(c) => format!(" (found '{c}')"),
            None => " (found the end of the expression)".to_owned(),
        };
        ParseError { position: Some(pos + 1), message: format!("{message}{found}.") }
    }

    fn skip_ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn starts_with(&self, s: &str) -> bool {
        let mut i = self.pos;
        for want in s.chars() {
            match self.chars.get(i) {
                Some(c) if c.eq_ignore_ascii_case(&want) => i += 1,
                _ => return false,
            }
        }
        true
    }

    /// A keyword here, not followed by more of a word.
    fn keyword(&self, word: &str) -> bool {
        self.starts_with(word)
            && !self.chars.get(self.pos + word.chars().count()).is_some_and(|c| subject_char(*c))
    }

    fn descend(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(format!("parentheses and not nest more than {MAX_DEPTH} deep")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Node, ParseError> {
        let mut all = vec![self.and()?];
        loop {
            self.skip_ws();
            if self.starts_with("||") || self.keyword("or") {
                self.pos += 2;
            } else {
                break;
            }
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Node::Or(all) })
    }

    fn and(&mut self) -> Result<Node, ParseError> {
        let mut all = vec![self.unary()?];
        loop {
            self.skip_ws();
            if self.starts_with("&&") {
                self.pos += 2;
            } else if self.keyword("and") {
                self.pos += 3;
            } else {
                break;
            }
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 { all.remove(0) } else { Node::And(all) })
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        self.skip_ws();
        if self.starts_with("(") {
            self.descend()?;
            self.pos += 1;
            let inner = self.or()?;
            self.skip_ws();
            if !self.starts_with(")") {
                return Err(self.error("expected ')'"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        let not_len = if self.keyword("not") {
            3
        } else if self.starts_with("!") {
            1
        } else {
            0
        };
        if not_len > 0 {
            self.descend()?;
            self.pos += not_len;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Node, ParseError> {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(|c| subject_char(*c)) {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        let subject = self.subject(start, &word)?;
        self.skip_ws();
        let op_at = self.pos;
        let op = self
            .op()
            .ok_or_else(|| self.error(format!("expected an operator after {}", subject.name())))?;
        if !subject.allows(op) {
            return Err(self.error_at(
                op_at,
                format!(
                    "{} cannot be used with {}, which takes {}",
                    op.symbol(),
                    subject.name(),
                    subject.allowed()
                ),
            ));
        }
        let arg = match op {
            Op::Exists | Op::NotExists => Arg::None,
            Op::In | Op::NotIn => {
                self.skip_ws();
                if !self.starts_with("[") {
                    return Err(
                        self.error(format!("{} expects a list such as [a, b]", op.symbol()))
                    );
                }
                self.pos += 1;
                let mut list = Vec::new();
                loop {
                    list.push(self.literal(&subject)?);
                    self.skip_ws();
                    if self.starts_with(",") {
                        self.pos += 1;
                    } else if self.starts_with("]") {
                        self.pos += 1;
                        break;
                    } else {
                        return Err(self.error("expected ',' or ']' in the list"));
                    }
                }
                Arg::List(list)
            }
            Op::Matches | Op::NotMatches => {
                self.skip_ws();
                let at = self.pos;
                let pattern = self.value()?;
                let regex = regex_lite::RegexBuilder::new(&format!("^(?:{pattern})$"))
                    .size_limit(1 << 20)
                    .nest_limit(64)
                    .build()
                    .map_err(|e| {
                        let why = e.to_string();
                        let why = why.lines().next().unwrap_or("").trim();
                        self.error_at(at, format!("not a valid regular expression ({why})"))
                    })?;
                Arg::Pattern(regex)
            }
            _ => Arg::One(self.literal(&subject)?),
        };
        Ok(Node::Test(Comparison { subject, op, arg }))
    }

    fn subject(&self, start: usize, word: &str) -> Result<Subject, ParseError> {
        let lower = word.to_ascii_lowercase();
        if let Some(name) = lower.strip_prefix("attribute:").map(|_| &word["attribute:".len()..]) {
            if name.is_empty() || name.chars().count() > 128 || name.contains(':') {
                return Err(self.error_at(
                    start,
                    "attribute: must be followed by an attribute name of 1 to 128 letters, \
                     digits, hyphens, underscores, slashes, backslashes or periods",
                ));
            }
            return Ok(Subject::Attribute(name.to_owned()));
        }
        Ok(match lower.as_str() {
            "task:group" => Subject::TaskGroup,
            "ec2instanceid" => Subject::Ec2InstanceId,
            "agentconnected" => Subject::AgentConnected,
            "agentversion" => Subject::AgentVersion,
            "registeredat" => Subject::RegisteredAt,
            "runningtaskscount" => Subject::RunningTasksCount,
            _ => {
                let what = if word.is_empty() {
                    "expected a subject".to_owned()
                } else {
                    format!("unknown subject '{word}'")
                };
                return Err(self.error_at(
                    start,
                    format!(
                        "{what}; valid subjects: attribute:<name>, ec2InstanceId, agentConnected, \
                         agentVersion, registeredAt, runningTasksCount, task:group"
                    ),
                ));
            }
        })
    }

    fn op(&mut self) -> Option<Op> {
        for (symbol, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=~", Op::Matches),
            ("!~", Op::NotMatches),
            (">", Op::Gt),
            ("<", Op::Lt),
        ] {
            if self.starts_with(symbol) {
                self.pos += symbol.len();
                return Some(op);
            }
        }
        let negated = self.starts_with("!");
        let from = self.pos + usize::from(negated);
        let mut end = from;
        while self.chars.get(end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
            end += 1;
        }
        let word: String = self.chars[from..end].iter().collect::<String>().to_ascii_lowercase();
        let op = match (negated, word.as_str()) {
            (true, "exists") | (false, "not_exists") => Op::NotExists,
            (true, "in") | (false, "not_in") => Op::NotIn,
            (false, "exists") => Op::Exists,
            (false, "in") => Op::In,
            (false, "equals") => Op::Eq,
            (false, "not_equals") => Op::Ne,
            (false, "greater_than") => Op::Gt,
            (false, "greater_than_equal") => Op::Ge,
            (false, "less_than") => Op::Lt,
            (false, "less_than_equal") => Op::Le,
            (false, "matches") => Op::Matches,
            (false, "not_matches") => Op::NotMatches,
            _ => return None,
        };
        self.pos = end;
        Some(op)
    }

    /// A value, unquoted or quoted.
    fn value(&mut self) -> Result<String, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.chars.get(self.pos).copied() {
            Some(q @ ('\'' | '"')) => {
                self.pos += 1;
                let mut out = String::new();
                loop {
                    match self.chars.get(self.pos).copied() {
                        None => return Err(self.error_at(start, "unterminated quoted value")),
                        Some(c) if c == q => {
                            self.pos += 1;
                            return Ok(out);
                        }
                        Some('\\')
                            if self
                                .chars
                                .get(self.pos + 1)
                                .is_some_and(|n| *n == q || *n == '\\') =>
                        {
                            out.extend(self.chars.get(self.pos + 1));
                            self.pos += 2;
                        }
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            _ => {
                while let Some(c) = self.chars.get(self.pos).copied() {
                    if c.is_whitespace()
                        || matches!(c, '(' | ')' | '[' | ']' | ',')
                        || self.starts_with("&&")
                        || self.starts_with("||")
                    {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.error("expected a value"));
                }
                Ok(self.chars[start..self.pos].iter().collect())
            }
        }
    }

    /// A value, read as the subject's kind of value.
    fn literal(&mut self, subject: &Subject) -> Result<Literal, ParseError> {
        self.skip_ws();
        let at = self.pos;
        let v = self.value()?;
        let bad = |what: &str| self.error_at(at, format!("{} takes {what}", subject.name()));
        Ok(match subject {
            Subject::RunningTasksCount => {
                Literal::Count(v.parse::<i64>().map_err(|_| bad("a whole number such as 1"))?)
            }
            Subject::AgentVersion => {
                Literal::Version(version(&v).ok_or_else(|| bad("a version such as 1.14.5"))?)
            }
            Subject::RegisteredAt => {
                let (ms, day) = time(&v).ok_or_else(|| {
                    bad("a date such as 2018-06-18, 2018-06-18T22:28:28, \
                         2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00")
                })?;
                Literal::Time(ms, day)
            }
            Subject::AgentConnected => match v.to_ascii_lowercase().as_str() {
                b @ ("true" | "false") => Literal::Text(b.to_owned()),
                _ => return Err(bad("true or false")),
            },
            _ => Literal::Text(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Instance {
        attributes: HashMap<String, Option<String>>,
        ec2: Option<String>,
        connected: bool,
        version: Option<String>,
        registered: Option<i64>,
        running: i64,
        groups: crate::ecs::placement::TaskGroups,
    }

    impl Facts for Instance {
        fn attribute(&self, name: &str) -> Option<Option<&str>> {
            self.attributes.get(name).map(|v| v.as_deref())
        }
        fn ec2_instance_id(&self) -> Option<&str> {
            self.ec2.as_deref()
        }
        fn agent_connected(&self) -> bool {
            self.connected
        }
        fn agent_version(&self) -> Option<&str> {
            self.version.as_deref()
        }
        fn registered_at_ms(&self) -> Option<i64> {
            self.registered
        }
        fn running_tasks_count(&self) -> i64 {
            self.running
        }
        fn task_groups(&self) -> &crate::ecs::placement::TaskGroups {
            &self.groups
        }
    }

    fn with(attrs: &[(&str, Option<&str>)]) -> Instance {
        Instance {
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect(),
            connected: true,
            ..Instance::default()
        }
    }

    fn yes(expr: &str, i: &Instance) -> bool {
        match Expression::parse(expr) {
            Ok(e) => e.matches(i),
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    fn err(expr: &str) -> String {
        match Expression::parse(expr) {
            Ok(_) => panic!("{expr} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn t2_small_1a() -> Instance {
        with(&[
            ("ecs.instance-type", Some("t2.small")),
            ("ecs.availability-zone", Some("us-east-1a")),
            ("stack", Some("prod")),
            ("ecs.capability.x", None),
            ("weight", Some("10")),
        ])
    }

    #[test]
    fn the_guides_examples_verbatim() {
        let t2 = t2_small_1a();
        let mut g2 = with(&[
            ("ecs.instance-type", Some("g2.2xlarge")),
            ("ecs.availability-zone", Some("us-east-1b")),
        ]);
        assert!(yes("attribute:ecs.instance-type == t2.small", &t2));
        assert!(!yes("attribute:ecs.instance-type == t2.small", &g2));
        assert!(yes("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", &t2));
        assert!(yes("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", &g2));
        let compound =
            "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d";
        assert!(yes(compound, &g2));
        assert!(!yes(compound, &t2));
        g2.attributes.insert("ecs.availability-zone".into(), Some("us-east-1d".into()));
        assert!(!yes(compound, &g2));
        assert!(yes("attribute:ecs.instance-type =~ t2.*", &t2));
        assert!(yes(
            "attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone == us-east-1a",
            &t2
        ));
        assert!(yes("attribute:ecs.instance-type in [t2.small, t2.medium]", &t2));
        assert!(yes("attribute:stack == prod", &t2));
        assert!(!yes("attribute:stack != prod", &t2));

        let mut i = Instance {
            groups: ["service:production"].into_iter().collect(),
            ..Instance::default()
        };
        assert!(yes("task:group == service:production", &i));
        assert!(yes(
            "task:group == databases",
            &Instance { groups: ["databases"].into_iter().collect(), ..Instance::default() }
        ));
        assert!(yes("not(task:group == database)", &i));
        i.groups.add("database", 1);
        assert!(!yes("not(task:group == database)", &i));

        i.running = 1;
        assert!(yes("runningTasksCount == 1", &i));
        i.running = 2;
        assert!(!yes("runningTasksCount == 1", &i));

        i.version = Some("1.14.4".into());
        assert!(yes("agentVersion < 1.14.5", &i));
        i.version = Some("1.9.0".into());
        assert!(yes("agentVersion < 1.14.5", &i), "numeric, not string, order");
        i.version = Some("1.14.5".into());
        assert!(!yes("agentVersion < 1.14.5", &i));

        i.registered = time("2018-02-12T23:59:59Z").map(|t| t.0);
        assert!(yes("registeredAt < 2018-02-13", &i));
        i.registered = time("2018-02-13T00:00:00Z").map(|t| t.0);
        assert!(!yes("registeredAt < 2018-02-13", &i));

        i.ec2 = Some("i-wxyx7890".into());
        assert!(yes("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", &i));
        i.ec2 = Some("i-other".into());
        assert!(!yes("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']", &i));
    }

    #[test]
    fn every_operator_in_both_spellings() {
        let i = t2_small_1a();
        for (symbol, word) in [
            ("==", "equals"),
            ("!=", "not_equals"),
            (">", "greater_than"),
            (">=", "greater_than_equal"),
            ("<", "less_than"),
            ("<=", "less_than_equal"),
            ("=~", "matches"),
            ("!~", "not_matches"),
        ] {
            for value in ["10", "9", "100", "1.*"] {
                let a = yes(&format!("attribute:weight {symbol} {value}"), &i);
                let b = yes(&format!("attribute:weight {word} {value}"), &i);
                assert_eq!(a, b, "{symbol} / {word} {value}");
            }
        }
        assert!(yes("attribute:weight > 9", &i), "numbers compare as numbers");
        assert!(!yes("attribute:weight > 100", &i));
        assert!(yes("attribute:weight >= 10 and attribute:weight <= 10", &i));
        assert!(yes("attribute:stack > abc and attribute:stack < zzz", &i), "strings as strings");
        assert!(yes("attribute:weight =~ 1.*", &i) && !yes("attribute:weight !~ 1.*", &i));
        assert!(!yes("attribute:ecs.instance-type =~ t2", &i), "a pattern matches the whole value");
        assert!(yes("attribute:stack exists", &i) && !yes("attribute:nope exists", &i));
        assert!(yes("attribute:nope !exists", &i) && yes("attribute:nope not_exists", &i));
        assert!(
            yes("attribute:ecs.capability.x exists", &i),
            "an attribute without a value exists"
        );
        assert!(!yes("attribute:ecs.capability.x == x", &i));
        assert!(
            yes("attribute:stack in [dev, prod]", &i)
                && !yes("attribute:stack !in [dev, prod]", &i)
        );
        assert!(yes("attribute:stack not_in [dev]", &i));
        assert!(!yes("attribute:nope != prod", &i), "negations need the subject");
        assert!(!yes("attribute:nope !in [a]", &i) && !yes("attribute:nope !~ a", &i));
        assert!(yes("attribute:stack EQUALS prod", &i), "keywords ignore case");
        assert!(!yes("attribute:stack == PROD", &i), "values do not");
        assert!(!yes("attribute:ecs.instance-type == t2.*", &i), "no wildcard outside =~");
    }

    #[test]
    fn precedence_and_grouping() {
        let i = t2_small_1a();
        let t = "attribute:stack == prod";
        let f = "attribute:stack == dev";
        assert!(yes(&format!("{t} or {f} and {f}"), &i), "and binds tighter than or");
        assert!(!yes(&format!("({t} or {f}) and {f}"), &i));
        assert!(yes(&format!("not {f} and {t}"), &i), "not binds tighter than and");
        assert!(!yes(&format!("not ({f} or {t})"), &i));
        assert!(yes(&format!("!{f} && {t} || {f}"), &i));
        assert!(yes(&format!("!!{t}"), &i));
        assert!(yes("attribute:stack==prod&&attribute:weight>9", &i), "no spaces needed");
        assert!(yes(&format!("((({t})))"), &i));
        assert!(yes("  attribute:stack == 'prod'  ", &i));
        assert!(yes("attribute:stack == \"prod\"", &i));
        assert!(yes(r"attribute:ecs.instance-type =~ 't2\.(small|medium)'", &i));
        let android = with(&[("android", Some("1")), ("order", Some("2")), ("notes", Some("3"))]);
        assert!(yes(
            "attribute:android == 1 and attribute:order == 2 or attribute:notes == 3",
            &android
        ));
    }

    #[test]
    fn subjects_beyond_attributes() {
        let mut i = Instance {
            ec2: Some("i-0123".into()),
            connected: false,
            version: Some("1.51.0".into()),
            registered: time("2018-06-18T22:28:28Z").map(|t| t.0),
            running: 3,
            ..Instance::default()
        };
        assert!(yes("agentConnected == false", &i) && yes("agentConnected != true", &i));
        assert!(yes("agentConnected in [false]", &i) && yes("agentConnected =~ f.*", &i));
        i.connected = true;
        assert!(yes("agentConnected == TRUE", &i));
        assert!(yes("ec2InstanceId =~ i-0.*", &i) && yes("ec2InstanceId != i-9", &i));
        assert!(yes("agentVersion >= 1.51 and agentVersion == 1.51.0", &i));
        assert!(yes("agentVersion > 1.9.99", &i));
        for expr in [
            "registeredAt == 2018-06-18",
            "registeredAt >= 2018-06-18 and registeredAt <= 2018-06-18",
            "registeredAt > 2018-06-17",
            "registeredAt == 2018-06-18T22:28:28Z",
            "registeredAt == 2018-06-18T22:28:28",
            "registeredAt == 2018-06-18T22:28:28+00:00",
            "registeredAt == 2018-06-19T00:28:28+02:00",
            "registeredAt < 2018-06-18T22:28:29",
        ] {
            assert!(yes(expr, &i), "{expr}");
        }
        assert!(!yes("registeredAt < 2018-06-18", &i));
        assert!(yes("runningTasksCount > 2 and runningTasksCount < 4", &i));
        assert!(yes("task:group !exists", &i) && !yes("task:group exists", &i));
        i.groups = ["family:web", "service:api"].into_iter().collect();
        assert!(yes("task:group exists", &i));
        assert!(yes("task:group =~ service:.*", &i));
        assert!(yes("task:group in [service:api, x]", &i));
        assert!(yes("task:group != family:web", &i), "some task is in another group");
        i.registered = None;
        i.version = None;
        i.ec2 = None;
        assert!(!yes("registeredAt < 2100-01-01", &i) && !yes("registeredAt != 2100-01-01", &i));
        assert!(!yes("agentVersion != 1.0", &i) && !yes("ec2InstanceId != x", &i));
    }

    #[test]
    fn bad_expressions_say_where_and_why() {
        for (expr, want) in [
            ("", "position 1: expected a subject"),
            ("   ", "position 4: expected a subject"),
            ("attribute:stack", "position 16: expected an operator after attribute:stack (found the end"),
            ("attribute:stack == ", "position 20: expected a value"),
            ("attribute:stack ~= prod", "position 17: expected an operator"),
            ("attribute: == x", "position 1: attribute: must be followed by an attribute name"),
            ("color == red", "position 1: unknown subject 'color'"),
            ("(attribute:a == b", "position 18: expected ')'"),
            ("attribute:a == b)", "position 17: expected and, or, or the end of the expression (found ')')"),
            ("attribute:a == b c", "position 18: expected and, or, or the end"),
            ("attribute:a == b and", "position 21: expected a subject"),
            ("attribute:a in b", "position 16: in expects a list such as [a, b]"),
            ("attribute:a in [b, c", "position 21: expected ',' or ']'"),
            ("attribute:a in [b,]", "position 19: expected a value"),
            ("attribute:a == 'b", "position 16: unterminated quoted value"),
            ("attribute:a =~ '('", "position 16: not a valid regular expression"),
            ("runningTasksCount == many", "position 22: runningTasksCount takes a whole number"),
            ("agentVersion < new", "position 16: agentVersion takes a version"),
            ("registeredAt < yesterday", "position 16: registeredAt takes a date"),
            ("registeredAt < 2018-02-30", "registeredAt takes a date"),
            ("registeredAt < 2018-02-13T25:00:00", "registeredAt takes a date"),
            ("agentConnected == maybe", "agentConnected takes true or false"),
            ("runningTasksCount in [1]", "position 19: in cannot be used with runningTasksCount, which takes ==, !=, >, >=, <, <="),
            ("agentConnected exists", "exists cannot be used with agentConnected"),
            ("ec2InstanceId > i-1", "> cannot be used with ec2InstanceId"),
            ("registeredAt =~ 2018.*", "=~ cannot be used with registeredAt"),
        ] {
            let got = err(expr);
            assert!(got.starts_with("placementConstraints.expression is invalid at "), "{expr}: {got}");
            assert!(got.contains(want), "{expr}: {got}");
        }
        let long = format!("attribute:a == {}", "b".repeat(MAX_LENGTH));
        assert_eq!(
            err(&long),
            "placementConstraints.expression can have a maximum length of 2000 characters."
        );
        let deep = format!("{}attribute:a == b{}", "(".repeat(100), ")".repeat(100));
        assert!(err(&deep).contains("nest more than 64 deep"));
        assert!(err(&"!".repeat(200)).contains("nest more than 64 deep"));
        assert!(Expression::parse(&format!(
            "{}attribute:a == b{}",
            "(".repeat(60),
            ")".repeat(60)
        ))
        .is_ok());
    }

    #[test]
    fn no_input_panics() {
        // A small deterministic generator: pieces of the language and noise.
        let pieces = [
            "attribute:",
            "a",
            "task:group",
            "ec2InstanceId",
            "agentConnected",
            "agentVersion",
            "registeredAt",
            "runningTasksCount",
            " ",
            "==",
            "!=",
            ">",
            "<=",
            "=~",
            "!~",
            "!",
            "exists",
            "!exists",
            "in",
            "not_in",
            "[",
            "]",
            ",",
            "(",
            ")",
            "and",
            "&&",
            "or",
            "||",
            "not",
            "'",
            "\"",
            "\\",
            "1",
            "1.2.3",
            "2018-06-18",
            "2018-06-18T22:28:28+00:00",
            "*",
            ".*",
            "é",
            "\u{0}",
            "\t",
            "[]",
            "(?",
            "{",
            "+",
            "-",
            ":",
            "true",
        ];
        let i = t2_small_1a();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 12) as usize;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            if let Ok(e) = Expression::parse(&s) {
                let _ = e.matches(&i);
            }
        }
        for c in ['\u{10FFFF}', 'ß', '字'] {
            let _ = Expression::parse(&format!("attribute:{c} == {c}"));
            let _ = Expression::parse(&format!("registeredAt == 2018-06-18T22:28:2{c}"));
            let _ = Expression::parse(&format!("registeredAt == 2018-06-1{c}"));
        }
    }
}
