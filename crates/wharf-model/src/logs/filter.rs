//! CloudWatch Logs filter patterns, as FilterLogEvents reads them: a parser
//! and a matcher, plus the [`Prefilter`] a store can push down into its
//! query so that only candidate messages reach the matcher.
//!
//! Three forms, as CloudWatch has them:
//! - terms: `ERROR Exception` (all must appear, case-sensitive), `"quoted
//!   phrases"`, `?ERROR ?WARN` (each `?` opens an alternative: a group of the
//!   terms after it, any group may match), `-term` (must not appear);
//! - JSON: `{ $.level = "ERROR" }`, `{ $.latency > 100 }`, `&&`, `||`,
//!   parentheses, `*` wildcards in string values, `IS NULL`, `NOT EXISTS`,
//!   `IS TRUE`, `IS FALSE`, `$.a.b[0]` selectors;
//! - space-delimited: `[ip, user, ..., status = 5*, bytes > 1000]`;
//! - regular expressions between `%`: alone (`%ERROR [0-9]{3}%`) or as the
//!   value of a JSON or delimited condition (`{ $.path = %^/api/v[12]/% }`),
//!   in CloudWatch's subset (no parentheses, ASCII only, at most two).
//!
//! A pattern that does not parse is CloudWatch's `InvalidParameterException`
//! "Invalid filter pattern".

use serde_json::Value;

use super::LogsError;

/// A parsed filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Form);

#[derive(Debug, Clone, PartialEq)]
enum Form {
    All,
    Regex(Re),
    Terms(Vec<TermGroup>),
    Json(Expr),
    Delimited(Vec<Field>),
}

/// Terms that must all appear, and terms that must not.
#[derive(Debug, Clone, Default, PartialEq)]
struct TermGroup {
    include: Vec<String>,
    exclude: Vec<String>,
}

/// A boolean combination of conditions.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cond(Cond),
}

/// A test on one value: a JSON selector's target, or a delimited field.
#[derive(Debug, Clone, PartialEq)]
struct Cond {
    /// JSON: the selector's steps; delimited: one key, the field name.
    path: Vec<Step>,
    test: Test,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Cmp(Op, Literal),
    IsNull,
    NotExists,
    IsBool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Num(f64),
    /// May hold `*` wildcards.
    Str(String),
    /// `%regex%`: matches anywhere unless anchored.
    Regex(Re),
}

/// A compiled `%regex%`, compared by its source.
#[derive(Debug, Clone)]
struct Re(regex_lite::Regex);

impl PartialEq for Re {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// The most `%regex%` parts one pattern may hold, as CloudWatch allows.
const MAX_REGEXES: usize = 2;

/// Compiles the body of `%...%` in CloudWatch's subset: letters, digits,
/// `:_#=@/;,-` and the operators `^$?[]{}|\*+.`; no parentheses.
fn regex(body: &str) -> Result<Re, LogsError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || ":_#=@/;,-^$?[]{}|\\*+.".contains(c);
    if body.is_empty() || !body.chars().all(allowed) {
        return Err(bad());
    }
    regex_lite::Regex::new(body).map(Re).map_err(|_| bad())
}

/// One position of a space-delimited pattern.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    /// `...`: any number of fields.
    Ellipsis,
    /// A named field, with the conditions on it (if any).
    Named(String, Option<Expr>),
}

/// What a message must contain to possibly match, in a form a store can
/// turn into its own query (`instr(message, ?) > 0` and friends). It never
/// rules out a message the pattern matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prefilter {
    /// Every message is a candidate.
    All,
    /// The message contains this text.
    Contains(String),
    /// The message does not contain this text.
    Lacks(String),
    /// All of these hold.
    And(Vec<Prefilter>),
    /// Any of these holds.
    Or(Vec<Prefilter>),
}

impl Pattern {
    /// Reads a pattern; an empty one matches everything.
    pub fn parse(text: &str) -> Result<Pattern, LogsError> {
        let t = text.trim();
        let form = if t.is_empty() || t == "\"\"" {
            Form::All
        } else if let Some(body) = t.strip_prefix('%').and_then(|b| b.strip_suffix('%')) {
            Form::Regex(regex(body)?)
        } else if let Some(body) = t.strip_prefix('{') {
            let body = body.strip_suffix('}').ok_or_else(LogsError::invalid_filter_pattern)?;
            Form::Json(parse_expr_all(body, true)?)
        } else if let Some(body) = t.strip_prefix('[') {
            let body = body.strip_suffix(']').ok_or_else(LogsError::invalid_filter_pattern)?;
            Form::Delimited(parse_fields(body)?)
        } else {
            Form::Terms(parse_terms(t)?)
        };
        let regexes = match &form {
            Form::Json(e) => regex_count(e),
            Form::Delimited(fields) => fields
                .iter()
                .map(|f| match f {
                    Field::Named(_, Some(e)) => regex_count(e),
                    _ => 0,
                })
                .sum(),
            _ => 0,
        };
        if regexes > MAX_REGEXES {
            return Err(bad());
        }
        Ok(Pattern(form))
    }

    /// Whether the pattern matches every message.
    pub fn matches_all(&self) -> bool {
        self.0 == Form::All
    }

    /// Whether `message` matches.
    pub fn matches(&self, message: &str) -> bool {
        match &self.0 {
            Form::All => true,
            Form::Regex(re) => re.0.is_match(message),
            Form::Terms(groups) => groups.iter().any(|g| {
                g.include.iter().all(|t| message.contains(t.as_str()))
                    && !g.exclude.iter().any(|t| message.contains(t.as_str()))
            }),
            Form::Json(expr) => match serde_json::from_str::<Value>(message) {
                Ok(v @ Value::Object(_)) => eval(expr, &|path| select(&v, path)),
                _ => false,
            },
            Form::Delimited(fields) => {
                let values = split_fields(message);
                let mut budget = MAX_ALIGNMENTS;
                bind(fields, fields, &values, &mut Vec::new(), &mut budget)
            }
        }
    }

    /// What a candidate message must contain (see [`Prefilter`]).
    pub fn prefilter(&self) -> Prefilter {
        match &self.0 {
            Form::All | Form::Regex(_) => Prefilter::All,
            Form::Terms(groups) => any_of(
                groups
                    .iter()
                    .map(|g| {
                        all_of(
                            g.include
                                .iter()
                                .map(|t| Prefilter::Contains(t.clone()))
                                .chain(g.exclude.iter().map(|t| Prefilter::Lacks(t.clone())))
                                .collect(),
                        )
                    })
                    .collect(),
            ),
            Form::Json(expr) => expr_prefilter(expr, true),
            Form::Delimited(fields) => all_of(
                fields
                    .iter()
                    .map(|f| match f {
                        Field::Named(_, Some(e)) => expr_prefilter(e, false),
                        _ => Prefilter::All,
                    })
                    .collect(),
            ),
        }
    }
}

fn all_of(mut parts: Vec<Prefilter>) -> Prefilter {
    parts.retain(|p| *p != Prefilter::All);
    match parts.len() {
        0 => Prefilter::All,
        1 => parts.remove(0),
        _ => Prefilter::And(parts),
    }
}

fn any_of(mut parts: Vec<Prefilter>) -> Prefilter {
    if parts.is_empty() || parts.contains(&Prefilter::All) {
        return Prefilter::All;
    }
    if parts.len() == 1 {
        return parts.remove(0);
    }
    Prefilter::Or(parts)
}

/// The literal text an `=` condition's value needs in the raw message. In
/// JSON a value may be written with escapes, so there the text is required
/// only of messages without a backslash.
fn expr_prefilter(expr: &Expr, json: bool) -> Prefilter {
    match expr {
        Expr::And(a, b) => all_of(vec![expr_prefilter(a, json), expr_prefilter(b, json)]),
        Expr::Or(a, b) => any_of(vec![expr_prefilter(a, json), expr_prefilter(b, json)]),
        Expr::Cond(Cond { test: Test::Cmp(Op::Eq, Literal::Str(s)), .. }) => {
            let Some(piece) = s.split('*').max_by_key(|p| p.len()).filter(|p| !p.is_empty()) else {
                return Prefilter::All;
            };
            if !json {
                return Prefilter::Contains(piece.to_owned());
            }
            if piece.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
                return Prefilter::All;
            }
            any_of(vec![Prefilter::Contains(piece.to_owned()), Prefilter::Contains("\\".into())])
        }
        Expr::Cond(_) => Prefilter::All,
    }
}

fn regex_count(e: &Expr) -> usize {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => regex_count(a) + regex_count(b),
        Expr::Cond(Cond { test: Test::Cmp(_, Literal::Regex(_)), .. }) => 1,
        Expr::Cond(_) => 0,
    }
}

fn bad() -> LogsError {
    LogsError::invalid_filter_pattern()
}

/// Reads a double-quoted string starting at `s[0] == '"'`: (content, rest).
fn quoted(s: &str) -> Result<(String, &str), LogsError> {
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 2..])),
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => return Err(bad()),
            },
            c => out.push(c),
        }
    }
    Err(bad())
}

fn parse_terms(text: &str) -> Result<Vec<TermGroup>, LogsError> {
    let mut groups: Vec<TermGroup> = Vec::new();
    let mut current = TermGroup::default();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let (prefix, body) = match rest.as_bytes()[0] {
            b'?' => (Some('?'), &rest[1..]),
            b'-' => (Some('-'), &rest[1..]),
            _ => (None, rest),
        };
        let (term, after) = if body.starts_with('"') {
            quoted(body)?
        } else {
            let end = body.find(char::is_whitespace).unwrap_or(body.len());
            let word = &body[..end];
            if word.contains('"') {
                return Err(bad());
            }
            (word.to_owned(), &body[end..])
        };
        if term.is_empty() {
            if prefix.is_some() {
                return Err(bad());
            }
        } else {
            match prefix {
                Some('?') => {
                    if current != TermGroup::default() {
                        groups.push(std::mem::take(&mut current));
                    }
                    current.include.push(term);
                }
                Some(_) => current.exclude.push(term),
                None => current.include.push(term),
            }
        }
        if !after.is_empty() && !after.starts_with(char::is_whitespace) {
            return Err(bad());
        }
        rest = after.trim_start();
    }
    groups.push(current);
    Ok(groups)
}

/// Tokens of the condition language shared by JSON and delimited patterns.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Quoted(String),
    Word(String),
    Regex(String),
}

fn tokens(s: &str) -> Result<Vec<Tok>, LogsError> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else { return Ok(out) };
        let (tok, len) = match c {
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            '&' if rest.starts_with("&&") => (Tok::And, 2),
            '|' if rest.starts_with("||") => (Tok::Or, 2),
            '!' if rest.starts_with("!=") => (Tok::Op(Op::Ne), 2),
            '<' if rest.starts_with("<=") => (Tok::Op(Op::Le), 2),
            '>' if rest.starts_with(">=") => (Tok::Op(Op::Ge), 2),
            '<' => (Tok::Op(Op::Lt), 1),
            '>' => (Tok::Op(Op::Gt), 1),
            '=' => (Tok::Op(Op::Eq), 1),
            '"' => {
                let (text, after) = quoted(rest)?;
                out.push(Tok::Quoted(text));
                rest = after;
                continue;
            }
            '%' => {
                let end = rest[1..].find('%').ok_or_else(bad)?;
                out.push(Tok::Regex(rest[1..end + 1].to_owned()));
                rest = &rest[end + 2..];
                continue;
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "()&|!<>=\"".contains(c))
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err(bad());
                }
                (Tok::Word(rest[..end].to_owned()), end)
            }
        };
        out.push(tok);
        rest = &rest[len..];
    }
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    json: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expr(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.primary()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.primary()?));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Expr, LogsError> {
        match self.next() {
            Some(Tok::Open) => {
                let e = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err(bad()),
                }
            }
            Some(Tok::Word(w)) => {
                let path = if self.json { selector(&w)? } else { vec![Step::Key(w)] };
                Ok(Expr::Cond(Cond { path, test: self.test()? }))
            }
            _ => Err(bad()),
        }
    }

    fn keyword(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn test(&mut self) -> Result<Test, LogsError> {
        if self.json && self.keyword("IS") {
            return if self.keyword("NULL") {
                Ok(Test::IsNull)
            } else if self.keyword("TRUE") {
                Ok(Test::IsBool(true))
            } else if self.keyword("FALSE") {
                Ok(Test::IsBool(false))
            } else {
                Err(bad())
            };
        }
        if self.json && self.keyword("NOT") {
            return if self.keyword("EXISTS") { Ok(Test::NotExists) } else { Err(bad()) };
        }
        let Some(Tok::Op(op)) = self.next() else { return Err(bad()) };
        let literal = match self.next() {
            Some(Tok::Quoted(s)) => Literal::Str(s),
            Some(Tok::Regex(r)) => Literal::Regex(regex(&r)?),
            Some(Tok::Word(w)) => match w.parse::<f64>() {
                Ok(n) if n.is_finite() => Literal::Num(n),
                _ => Literal::Str(w),
            },
            _ => return Err(bad()),
        };
        if matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge) && !matches!(literal, Literal::Num(_)) {
            return Err(bad());
        }
        if matches!(literal, Literal::Regex(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(bad());
        }
        Ok(Test::Cmp(op, literal))
    }
}

fn parse_expr_all(s: &str, json: bool) -> Result<Expr, LogsError> {
    let mut p = Parser { toks: tokens(s)?, at: 0, json };
    let e = p.expr()?;
    if p.at != p.toks.len() {
        return Err(bad());
    }
    Ok(e)
}

/// Reads `$.a.b[0].c`.
fn selector(s: &str) -> Result<Vec<Step>, LogsError> {
    let mut rest = s.strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            steps.push(Step::Key(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            steps.push(Step::Index(r[..end].parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    if steps.is_empty() {
        return Err(bad());
    }
    Ok(steps)
}

/// Reads the fields of `[a, b = 1, ..., c]`.
fn parse_fields(body: &str) -> Result<Vec<Field>, LogsError> {
    let mut fields = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        if part == "..." {
            if fields.last() != Some(&Field::Ellipsis) {
                fields.push(Field::Ellipsis);
            }
            continue;
        }
        let name_end =
            part.find(|c: char| c.is_whitespace() || "()&|!<>=".contains(c)).unwrap_or(part.len());
        let name = &part[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            // A condition may start with a parenthesis: `(status = 4* || status = 5*)`.
            if part.starts_with('(') {
                let expr = parse_expr_all(part, false)?;
                let first = first_key(&expr).ok_or_else(bad)?;
                fields.push(Field::Named(first, Some(expr)));
                continue;
            }
            return Err(bad());
        }
        let cond = part[name_end..].trim();
        let expr = if cond.is_empty() { None } else { Some(parse_expr_all(part, false)?) };
        fields.push(Field::Named(name.to_owned(), expr));
    }
    if fields.is_empty() {
        return Err(bad());
    }
    Ok(fields)
}

fn first_key(e: &Expr) -> Option<String> {
    match e {
        Expr::And(a, _) | Expr::Or(a, _) => first_key(a),
        Expr::Cond(Cond { path, .. }) => match path.first() {
            Some(Step::Key(k)) => Some(k.clone()),
            _ => None,
        },
    }
}

/// A message's space-delimited fields: `"..."` and `[...]` are one field each,
/// without their delimiters.
fn split_fields(message: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = message.trim_start();
    while !rest.is_empty() {
        let (close, skip) = match rest.as_bytes()[0] {
            b'"' => (Some('"'), 1),
            b'[' => (Some(']'), 1),
            _ => (None, 0),
        };
        let (field, after) = match close.and_then(|c| rest[skip..].find(c)) {
            Some(end) => (&rest[skip..skip + end], &rest[skip + end + 1..]),
            None => {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        out.push(field);
        rest = after.trim_start();
    }
    out
}

/// The most ways of lining a delimited pattern up with one message that are
/// tried (each `...` may take any number of fields); past it, no match.
const MAX_ALIGNMENTS: usize = 10_000;

/// Lines the pattern's fields up with the message's (`...` takes any number
/// of them) and, once all are bound, checks every field's conditions; tries
/// the next alignment when they fail.
fn bind<'a>(
    all: &[Field],
    fields: &[Field],
    values: &[&'a str],
    bound: &mut Vec<(String, &'a str)>,
    budget: &mut usize,
) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match fields.split_first() {
        None => {
            values.is_empty()
                && all.iter().all(|f| match f {
                    Field::Named(_, Some(expr)) => eval(expr, &|path| lookup(bound, path)),
                    _ => true,
                })
        }
        Some((Field::Ellipsis, rest)) => {
            let mark = bound.len();
            for skip in 0..=values.len() {
                if bind(all, rest, &values[skip..], bound, budget) {
                    return true;
                }
                bound.truncate(mark);
            }
            false
        }
        Some((Field::Named(name, _), rest)) => {
            let Some((value, others)) = values.split_first() else { return false };
            bound.push((name.clone(), value));
            if bind(all, rest, others, bound, budget) {
                return true;
            }
            bound.pop();
            false
        }
    }
}

/// A value a condition looks at.
enum Target<'a> {
    Missing,
    Json(&'a Value),
    Text(&'a str),
}

fn select<'a>(root: &'a Value, path: &[Step]) -> Target<'a> {
    let mut v = root;
    for step in path {
        let next = match step {
            Step::Key(k) => v.get(k.as_str()),
            Step::Index(i) => v.get(*i),
        };
        match next {
            Some(n) => v = n,
            None => return Target::Missing,
        }
    }
    Target::Json(v)
}

fn lookup<'a>(bound: &[(String, &'a str)], path: &[Step]) -> Target<'a> {
    let Some(Step::Key(name)) = path.first() else { return Target::Missing };
    bound.iter().find(|(n, _)| n == name).map_or(Target::Missing, |(_, v)| Target::Text(v))
}

fn eval<'a>(e: &Expr, get: &dyn Fn(&[Step]) -> Target<'a>) -> bool {
    match e {
        Expr::And(a, b) => eval(a, get) && eval(b, get),
        Expr::Or(a, b) => eval(a, get) || eval(b, get),
        Expr::Cond(c) => test(&c.test, get(&c.path)),
    }
}

fn test(t: &Test, target: Target<'_>) -> bool {
    match (t, target) {
        (Test::NotExists, Target::Missing) => true,
        (_, Target::Missing) | (Test::NotExists, _) => false,
        (Test::IsNull, Target::Json(v)) => v.is_null(),
        (Test::IsBool(b), Target::Json(v)) => v.as_bool() == Some(*b),
        (Test::IsNull | Test::IsBool(_), Target::Text(_)) => false,
        (Test::Cmp(op, lit), target) => compare(*op, lit, &target),
    }
}

fn compare(op: Op, lit: &Literal, target: &Target<'_>) -> bool {
    match lit {
        Literal::Num(n) => {
            let value = match target {
                Target::Json(v) => v.as_f64(),
                Target::Text(t) => t.parse::<f64>().ok(),
                Target::Missing => None,
            };
            let Some(v) = value else { return false };
            match op {
                Op::Eq => v == *n,
                Op::Ne => v != *n,
                Op::Lt => v < *n,
                Op::Le => v <= *n,
                Op::Gt => v > *n,
                Op::Ge => v >= *n,
            }
        }
        Literal::Str(_) | Literal::Regex(_) => {
            let text: std::borrow::Cow<'_, str> = match target {
                Target::Json(Value::String(s)) => s.as_str().into(),
                Target::Json(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string().into(),
                Target::Text(t) => (*t).into(),
                _ => return false,
            };
            let hit = match lit {
                Literal::Regex(re) => re.0.is_match(&text),
                Literal::Str(pattern) => glob(pattern, &text),
                Literal::Num(_) => false,
            };
            match op {
                Op::Eq => hit,
                Op::Ne => !hit,
                _ => false,
            }
        }
    }
}

/// `*` matches any run of characters; everything else is literal.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = parts.collect();
    let Some((last, middle)) = pieces.split_last() else { return rest.is_empty() };
    for piece in middle {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        Pattern::parse(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).matches(message)
    }

    /// Every pattern and message pair agrees with the prefilter: a match is
    /// never ruled out.
    fn check(pattern: &str, message: &str, expected: bool) {
        assert_eq!(m(pattern, message), expected, "{pattern:?} on {message:?}");
        if expected {
            let p = Pattern::parse(pattern).unwrap().prefilter();
            assert!(holds(&p, message), "prefilter {p:?} rules out {message:?}");
        }
    }

    fn holds(p: &Prefilter, message: &str) -> bool {
        match p {
            Prefilter::All => true,
            Prefilter::Contains(s) => message.contains(s.as_str()),
            Prefilter::Lacks(s) => !message.contains(s.as_str()),
            Prefilter::And(ps) => ps.iter().all(|p| holds(p, message)),
            Prefilter::Or(ps) => ps.iter().any(|p| holds(p, message)),
        }
    }

    #[test]
    fn empty_matches_everything() {
        check("", "anything", true);
        check("  ", "", true);
        check("\"\"", "x", true);
        assert!(Pattern::parse("").unwrap().matches_all());
    }

    #[test]
    fn terms_all_must_appear_case_sensitively() {
        check("ERROR", "[ERROR] disk full", true);
        check("ERROR", "error: disk full", false);
        check("ERROR Exception", "ERROR NullPointerException", true);
        check("ERROR Exception", "ERROR only", false);
        check("\"disk full\"", "ERROR: disk full now", true);
        check("\"disk full\"", "full disk", false);
        check("\"a \\\"q\\\" b\"", "x a \"q\" b", true);
    }

    #[test]
    fn alternatives_and_exclusions() {
        check("?ERROR ?WARN", "WARN low memory", true);
        check("?ERROR ?WARN", "INFO ok", false);
        check("ERROR -Exiting", "ERROR retrying", true);
        check("ERROR -Exiting", "ERROR Exiting now", false);
        check("-DEBUG", "INFO x", true);
        check("-DEBUG", "DEBUG x", false);
        // Each ? opens a group of the terms after it.
        check("?ERROR MainThread ?WARN Deadlock", "WARN Deadlock found", true);
        check("?ERROR MainThread ?WARN Deadlock", "ERROR in MainThread", true);
        check("?ERROR MainThread ?WARN Deadlock", "ERROR Deadlock", false);
        check("?\"disk full\" ?oom", "oom-killer", true);
    }

    #[test]
    fn json_equality_wildcards_and_numbers() {
        let msg = r#"{"level":"ERROR","latency":250,"user":{"id":"u-17","roles":["admin","dev"]},"ok":false,"gone":null,"ip":"10.0.3.7"}"#;
        check(r#"{ $.level = "ERROR" }"#, msg, true);
        check(r#"{ $.level = ERROR }"#, msg, true);
        check(r#"{ $.level = "WARN" }"#, msg, false);
        check(r#"{ $.level != "WARN" }"#, msg, true);
        check(r#"{ $.latency > 100 }"#, msg, true);
        check(r#"{ $.latency >= 250 }"#, msg, true);
        check(r#"{ $.latency < 250 }"#, msg, false);
        check(r#"{ $.latency = 250 }"#, msg, true);
        check(r#"{ $.latency != 250 }"#, msg, false);
        check(r#"{ $.user.id = "u-*" }"#, msg, true);
        check(r#"{ $.ip = 10.0.* }"#, msg, true);
        check(r#"{ $.ip = *.3.* }"#, msg, true);
        check(r#"{ $.ip = *.4.* }"#, msg, false);
        check(r#"{ $.user.roles[0] = "admin" }"#, msg, true);
        check(r#"{ $.user.roles[1] = "admin" }"#, msg, false);
        check(r#"{ $.user.roles[5] = "admin" }"#, msg, false);
        check(r#"{ $.missing = "x" }"#, msg, false);
        check(r#"{ $.missing != "x" }"#, msg, false);
    }

    #[test]
    fn json_null_exists_booleans() {
        let msg = r#"{"gone":null,"ok":false,"yes":true}"#;
        check(r#"{ $.gone IS NULL }"#, msg, true);
        check(r#"{ $.ok IS NULL }"#, msg, false);
        check(r#"{ $.nothing NOT EXISTS }"#, msg, true);
        check(r#"{ $.gone NOT EXISTS }"#, msg, false);
        check(r#"{ $.ok IS FALSE }"#, msg, true);
        check(r#"{ $.yes IS TRUE }"#, msg, true);
        check(r#"{ $.ok IS TRUE }"#, msg, false);
    }

    #[test]
    fn json_and_or_parentheses() {
        let msg = r#"{"a":1,"b":"x","c":"y"}"#;
        check(r#"{ $.a = 1 && $.b = "x" }"#, msg, true);
        check(r#"{ $.a = 2 && $.b = "x" }"#, msg, false);
        check(r#"{ $.a = 2 || $.b = "x" }"#, msg, true);
        check(r#"{ ($.a = 2 || $.b = "x") && $.c = "y" }"#, msg, true);
        check(r#"{ ($.a = 2 || $.b = "z") && $.c = "y" }"#, msg, false);
        check(r#"{ $.a = 2 || $.b = "z" || $.c = "y" }"#, msg, true);
        check(r#"{($.a=1)&&($.b="x")}"#, msg, true);
    }

    #[test]
    fn json_patterns_never_match_other_messages() {
        check(r#"{ $.level = "ERROR" }"#, "ERROR plain text", false);
        check(r#"{ $.level = "ERROR" }"#, r#"["ERROR"]"#, false);
        check(r#"{ $.x NOT EXISTS }"#, "not json", false);
    }

    #[test]
    fn json_escapes_get_past_the_prefilter() {
        // The value is written with an escape: the raw text lacks "ERROR".
        check(r#"{ $.level = "ERROR" }"#, r#"{"level":"\u0045RROR"}"#, true);
    }

    #[test]
    fn delimited_fields() {
        let line =
            r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#;
        check("[ip, id, user, timestamp, request, status_code = 404, size]", line, true);
        check("[ip, id, user, timestamp, request, status_code = 200, size]", line, false);
        check("[ip, id, user, timestamp, request, status_code = 4*, size]", line, true);
        check("[..., status_code = 404, size > 1000]", line, true);
        check("[..., status_code = 404, size > 2000]", line, false);
        check("[ip = 127.*, ...]", line, true);
        check("[ip, id, user = frank, ...]", line, true);
        check("[ip, id, user != frank, ...]", line, false);
        check("[a, b]", line, false);
        check("[..., request = \"GET *\", status, size]", line, true);
        check("[..., status_code = 4* || status_code = 5*, size]", line, true);
        // Any alignment of the ellipses may satisfy the conditions.
        check("[..., field = 404, ...]", line, true);
        check("[..., field = frank, ..., size = 1534]", line, true);
        check("[..., ..., field = 1534]", line, true);
        check("[..., field = 999, ...]", line, false);
    }

    #[test]
    fn regular_expressions_alone_and_in_values() {
        check("%ERROR%", "an ERROR here", true);
        check("%^ERROR%", "an ERROR here", false);
        check("%[0-9]{3}ms$%", "took 250ms", true);
        check("%[0-9]{3}ms$%", "took 25ms", false);
        check("%colou?r%", "color", true);
        check("%WARN|ERROR%", "WARN x", true);
        check(r#"{ $.path = %^/api/v[12]/% }"#, r#"{"path":"/api/v2/items"}"#, true);
        check(r#"{ $.path = %^/api/v[12]/% }"#, r#"{"path":"/api/v3/items"}"#, false);
        check(r#"{ $.path != %^/api/% }"#, r#"{"path":"/health"}"#, true);
        check("[ip, user = %^fr%, ...]", "1.2.3.4 frank x", true);
        check("50% 60% 70% 80% 90%", "50% 60% 70% 80% 90%", true);
        check("[a = %x%, b = %y%, ...]", "x y z", true);
        for bad in
            ["%(a)%", "%%", "%a b%", "%é%", "[a = %x%, b = %y%, c = %z%]", "{ $.n > %1% }", "%[%"]
        {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_patterns_are_invalid_parameter() {
        for bad in [
            "{ $.level = }",
            "{ $.level }",
            "{ level = \"x\" }",
            "{ $.a = 1",
            "{ $.a > \"x\" }",
            "{ ($.a = 1 }",
            "{ $.a = 1 && }",
            "{ $. = 1 }",
            "{ $.a[x] = 1 }",
            "\"unterminated",
            "?",
            "-",
            "a\"b",
            "[a, b",
            "[]",
            "[a b c]",
            "{ $.a IS MAYBE }",
        ] {
            let e = Pattern::parse(bad).expect_err(bad);
            assert_eq!(e.kind, super::super::LogsErrorKind::InvalidParameterException);
            assert_eq!(e.message, "Invalid filter pattern");
        }
    }

    #[test]
    fn prefilters_push_down_required_text() {
        let p = |s: &str| Pattern::parse(s).unwrap().prefilter();
        assert_eq!(p("ERROR"), Prefilter::Contains("ERROR".into()));
        assert_eq!(
            p("ERROR -x"),
            Prefilter::And(vec![Prefilter::Contains("ERROR".into()), Prefilter::Lacks("x".into())])
        );
        assert_eq!(
            p("?a ?b"),
            Prefilter::Or(vec![Prefilter::Contains("a".into()), Prefilter::Contains("b".into())])
        );
        assert_eq!(p(r#"{ $.n > 1 }"#), Prefilter::All);
        assert_eq!(p(r#"{ $.n > 1 || $.l = "E" }"#), Prefilter::All);
        assert_eq!(
            p(r#"{ $.l = "ERR*" }"#),
            Prefilter::Or(vec![
                Prefilter::Contains("ERR".into()),
                Prefilter::Contains("\\".into())
            ])
        );
        assert_eq!(p("[a, b = frank]"), Prefilter::Contains("frank".into()));
        assert_eq!(p("[a, b = 404]"), Prefilter::All);
    }

    #[test]
    fn glob_wildcards() {
        assert!(glob("*", ""));
        assert!(glob("a*", "abc"));
        assert!(glob("*c", "abc"));
        assert!(glob("a*c", "abc"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("a*b*c", "aXcYb"));
        assert!(!glob("ab*ba", "aba"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
    }
}
