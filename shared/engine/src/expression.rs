//! Custom upgrade conditions such as `(A AND B) OR C`.
//!
//! The reference: "All expressions are evaluated from left to right. The
//! expression A OR B AND C is read as (A OR B) AND C." Operators are `AND`,
//! `OR` (any case), `&&` and `||`; a single `&` or `|` is invalid.
//!
//! A rule has at most three criteria, so a parsed expression is compiled to a
//! truth table over the 2^3 combinations of met criteria: evaluating it on the
//! hot path is one shift.

use std::fmt;

/// Which of a rule's criteria (by position) are met: bit i for criterion i.
pub type MetMask = u8;

/// `SPREAD[k][r]`: bit `c << k` for every `c < 2^r`, the offsets in a
/// [`TruthTable`] of the masks that agree with a mask on its low `k` bits
/// (for `k + r <= 3`).
const SPREAD: [[u8; 4]; 4] = {
    let mut table = [[0u8; 4]; 4];
    let mut k = 0;
    while k < 4 {
        let mut r = 0;
        while k + r < 4 {
            let mut c = 0;
            while c < (1 << r) {
                table[k][r] |= 1 << (c << k);
                c += 1;
            }
            r += 1;
        }
        k += 1;
    }
    table
};

/// A boolean function of up to eight criteria, one bit per [`MetMask`] value
/// (only the low 2^N bits matter for N criteria).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruthTable(u8);

impl TruthTable {
    pub fn holds(self, met: MetMask) -> bool {
        (self.0 >> met) & 1 == 1
    }

    /// The outcome once the first `known` of `criteria` criteria are
    /// evaluated (their bits in `met`), if every value of the rest agrees.
    pub fn decided(self, criteria: usize, known: usize, met: MetMask) -> Option<bool> {
        // Asked after every criterion of every decision: the completions'
        // bits of the table, picked by one mask, instead of a loop over them.
        if criteria <= 3 && known <= criteria && u32::from(met) < (1 << known) {
            let completions = SPREAD[known][criteria - known];
            let picked = (self.0 >> met) & completions;
            return match picked {
                0 => Some(false),
                p if p == completions => Some(true),
                _ => None,
            };
        }
        self.decided_one_by_one(criteria, known, met)
    }

    /// Whether criterion `next` can still change the outcome once the
    /// criteria before it are known (their bits in `met`): false when every
    /// completion of the later criteria holds alike with it met or not, as
    /// `B` of `(A AND B) OR C` once `A` has failed.
    pub(crate) fn matters(self, criteria: usize, next: usize, met: MetMask) -> bool {
        if next >= criteria {
            return false;
        }
        let mut completion = 0u8;
        loop {
            let rest = met | (completion << (next + 1));
            if self.holds(rest) != self.holds(rest | (1 << next)) {
                return true;
            }
            completion += 1;
            if usize::from(completion) >= 1 << (criteria - next - 1) {
                return false;
            }
        }
    }

    /// [`TruthTable::decided`] by trying every completion of `met`.
    fn decided_one_by_one(self, criteria: usize, known: usize, met: MetMask) -> Option<bool> {
        let first = self.holds(met);
        let rest = criteria - known;
        for completion in 1..(1u8 << rest) {
            if self.holds(met | (completion << known)) != first {
                return None;
            }
        }
        Some(first)
    }

    pub fn from_fn(criteria: usize, f: impl Fn(MetMask) -> bool) -> Self {
        let mut bits = 0u8;
        for mask in 0..(1u8 << criteria) {
            if f(mask) {
                bits |= 1 << mask;
            }
        }
        TruthTable(bits)
    }

    pub fn all(criteria: usize) -> Self {
        let every = ((1u16 << criteria) - 1) as u8;
        Self::from_fn(criteria, |m| m == every)
    }

    pub fn any(criteria: usize, at_least: u32) -> Self {
        Self::from_fn(criteria, |m| m.count_ones() >= at_least)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Label(usize),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

impl Expr {
    pub fn eval(&self, met: MetMask) -> bool {
        match self {
            Expr::Label(i) => (met >> i) & 1 == 1,
            Expr::And(a, b) => a.eval(met) && b.eval(met),
            Expr::Or(a, b) => a.eval(met) || b.eval(met),
        }
    }

    /// The expression fully parenthesised, for messages and tests.
    pub fn render(&self, labels: &[&str]) -> String {
        match self {
            Expr::Label(i) => labels[*i].to_owned(),
            Expr::And(a, b) => format!("({} AND {})", a.render(labels), b.render(labels)),
            Expr::Or(a, b) => format!("({} OR {})", a.render(labels), b.render(labels)),
        }
    }
}

/// Longest expression accepted: three criteria need a few dozen characters;
/// the bound keeps every parse tree shallow enough to walk recursively.
pub const MAX_EXPRESSION_CHARS: usize = 256;
/// Deepest parenthesis nesting accepted.
pub const MAX_NESTING: usize = 16;

/// A parse error with the 1-based character position of the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub position: usize,
    pub token: String,
    pub reason: &'static str,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.token.is_empty() {
            write!(f, "{} at position {}", self.reason, self.position)
        } else {
            write!(
                f,
                "{} at position {}: `{}`",
                self.reason, self.position, self.token
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Label(String),
    And,
    Or,
    Open,
    Close,
}

struct Lexed {
    token: Token,
    position: usize,
    text: String,
}

fn lex(source: &str) -> Result<Vec<Lexed>, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (token, len) = match c {
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            '&' | '|' => {
                if chars.get(i + 1) == Some(&c) {
                    (if c == '&' { Token::And } else { Token::Or }, 2)
                } else {
                    return Err(ExprError {
                        position,
                        token: c.to_string(),
                        reason: "a single `&` or `|` is not an operator (use AND, OR, && or ||)",
                    });
                }
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let len = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .count();
                let word: String = chars[i..i + len].iter().collect();
                let token = match word.to_ascii_uppercase().as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    _ => Token::Label(word),
                };
                (token, len)
            }
            other => {
                return Err(ExprError {
                    position,
                    token: other.to_string(),
                    reason: "unexpected character",
                })
            }
        };
        out.push(Lexed {
            token,
            position,
            text: chars[i..i + len].iter().collect(),
        });
        i += len;
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Lexed>,
    next: usize,
    depth: usize,
    labels: &'a [&'a str],
    end: usize,
}

impl Parser<'_> {
    fn error_here(&self, reason: &'static str) -> ExprError {
        match self.tokens.get(self.next) {
            Some(t) => ExprError {
                position: t.position,
                token: t.text.clone(),
                reason,
            },
            None => ExprError {
                position: self.end,
                token: String::new(),
                reason,
            },
        }
    }

    /// sequence := operand (operator operand)*, folded strictly left to right.
    fn sequence(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.operand()?;
        while let Some(t) = self.tokens.get(self.next) {
            let is_and = match t.token {
                Token::And => true,
                Token::Or => false,
                Token::Close => break,
                _ => return Err(self.error_here("expected AND, OR or `)`")),
            };
            self.next += 1;
            let right = self.operand()?;
            left = if is_and {
                Expr::And(Box::new(left), Box::new(right))
            } else {
                Expr::Or(Box::new(left), Box::new(right))
            };
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        let Some(t) = self.tokens.get(self.next) else {
            return Err(self.error_here("expected a criterion or `(` after the operator"));
        };
        match &t.token {
            Token::Label(name) => {
                let index = self
                    .labels
                    .iter()
                    .position(|l| *l == name)
                    .ok_or_else(|| self.error_here("unknown criterion"))?;
                self.next += 1;
                Ok(Expr::Label(index))
            }
            Token::Open => {
                if self.depth == MAX_NESTING {
                    return Err(self.error_here("parentheses nested deeper than 16"));
                }
                let open = self.next;
                self.next += 1;
                self.depth += 1;
                let inner = self.sequence()?;
                self.depth -= 1;
                match self.tokens.get(self.next) {
                    Some(Lexed {
                        token: Token::Close,
                        ..
                    }) => {
                        self.next += 1;
                        Ok(inner)
                    }
                    _ => {
                        let t = &self.tokens[open];
                        Err(ExprError {
                            position: t.position,
                            token: t.text.clone(),
                            reason: "unbalanced parenthesis",
                        })
                    }
                }
            }
            Token::And | Token::Or => Err(self.error_here("operator without a left operand")),
            Token::Close => Err(self.error_here("unexpected `)`")),
        }
    }
}

/// Parses `source` against the rule's criterion ids (`labels`).
pub fn parse(source: &str, labels: &[&str]) -> Result<Expr, ExprError> {
    if source.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ExprError {
            position: MAX_EXPRESSION_CHARS + 1,
            token: String::new(),
            reason: "expression longer than 256 characters",
        });
    }
    let tokens = lex(source)?;
    if tokens.is_empty() {
        return Err(ExprError {
            position: 1,
            token: String::new(),
            reason: "empty expression",
        });
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        depth: 0,
        labels,
        end: source.chars().count() + 1,
    };
    let expr = parser.sequence()?;
    if parser.next < parser.tokens.len() {
        return Err(parser.error_here("unbalanced parenthesis"));
    }
    Ok(expr)
}

/// Parses and compiles to a truth table (at most 3 labels).
pub fn compile(source: &str, labels: &[&str]) -> Result<TruthTable, ExprError> {
    let expr = parse(source, labels)?;
    Ok(TruthTable::from_fn(labels.len(), |m| expr.eval(m)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABC: [&str; 3] = ["A", "B", "C"];

    fn render(source: &str) -> String {
        parse(source, &ABC).unwrap().render(&ABC)
    }

    #[test]
    fn a_or_b_and_c_is_read_as_a_or_b_then_and_c() {
        assert_eq!(render("A OR B AND C"), "((A OR B) AND C)");
        // Only C met: conventional precedence would say true, left to right says false.
        let t = compile("A OR B AND C", &ABC).unwrap();
        assert!(!t.holds(0b100));
        assert!(t.holds(0b101));
    }

    #[test]
    fn a_condition_is_decided_as_soon_as_the_rest_cannot_change_it() {
        let t = compile("(A AND B) OR C", &ABC).unwrap();
        assert_eq!(t.decided(3, 1, 0b000), None, "C could still hold");
        assert_eq!(t.decided(3, 2, 0b011), Some(true));
        assert_eq!(t.decided(3, 3, 0b001), Some(false));
        let any2 = TruthTable::any(3, 2);
        assert_eq!(
            any2.decided(3, 2, 0b00),
            Some(false),
            "one left cannot make two"
        );
        assert_eq!(any2.decided(3, 2, 0b11), Some(true));
    }

    #[test]
    fn the_masked_answer_is_the_one_every_completion_gives() {
        for bits in 0..=u8::MAX {
            let t = TruthTable(bits);
            for criteria in 0..=3 {
                for known in 0..=criteria {
                    for met in 0..(1u8 << known) {
                        assert_eq!(
                            t.decided(criteria, known, met),
                            t.decided_one_by_one(criteria, known, met),
                            "table {bits:#010b}, {known} of {criteria} known, met {met:#b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_e_commerce_expression_needs_a_and_b_or_c() {
        let t = compile("(A AND B) OR C", &ABC).unwrap();
        assert!(t.holds(0b011));
        assert!(t.holds(0b100));
        assert!(!t.holds(0b001));
        assert!(!t.holds(0b010));
    }

    #[test]
    fn symbols_and_any_case_words_are_operators() {
        assert_eq!(
            render("(a && B) || C".replace('a', "A").as_str()),
            "((A AND B) OR C)"
        );
        assert_eq!(render("A and B Or C"), "((A AND B) OR C)");
    }

    #[test]
    fn single_ampersand_names_its_position() {
        let e = parse("A & B", &ABC).unwrap_err();
        assert_eq!((e.position, e.token.as_str()), (3, "&"));
        let e = parse("(A || B) | C", &ABC).unwrap_err();
        assert_eq!((e.position, e.token.as_str()), (10, "|"));
    }

    #[test]
    fn unknown_labels_unbalanced_parentheses_and_dangling_operators_are_errors() {
        let e = parse("A AND D", &ABC).unwrap_err();
        assert_eq!(
            (e.position, e.token.as_str(), e.reason),
            (7, "D", "unknown criterion")
        );
        let e = parse("(A AND B", &ABC).unwrap_err();
        assert_eq!((e.position, e.reason), (1, "unbalanced parenthesis"));
        let e = parse("A AND B)", &ABC).unwrap_err();
        assert_eq!((e.position, e.reason), (8, "unbalanced parenthesis"));
        let e = parse("A AND", &ABC).unwrap_err();
        assert_eq!(e.position, 6);
        let e = parse("OR A", &ABC).unwrap_err();
        assert_eq!((e.position, e.token.as_str()), (1, "OR"));
        assert!(parse("", &ABC).is_err());
        assert!(parse("A B", &ABC).is_err());
    }

    #[test]
    fn depth_and_length_are_bounded_before_any_recursion() {
        let deep = format!("{}A{}", "(".repeat(6000), ")".repeat(6000));
        let e = parse(&deep, &ABC).unwrap_err();
        assert_eq!(
            (e.position, e.reason),
            (257, "expression longer than 256 characters")
        );
        let long = vec!["A"; 100_000].join(" AND ");
        assert_eq!(parse(&long, &ABC).unwrap_err().position, 257);
        let nested = format!("{}A{}", "(".repeat(17), ")".repeat(17));
        let e = parse(&nested, &ABC).unwrap_err();
        assert_eq!(
            (e.position, e.reason),
            (17, "parentheses nested deeper than 16")
        );
        let ok = format!("{}A{}", "(".repeat(16), ")".repeat(16));
        assert_eq!(render(&ok), "A");
        let widest = vec!["A"; 50].join(" OR ");
        assert!(widest.len() <= MAX_EXPRESSION_CHARS);
        assert!(compile(&widest, &ABC).unwrap().holds(0b001));
    }

    /// Reading criteria left to right and skipping each one that
    /// [`TruthTable::matters`] says cannot change the outcome (leaving it
    /// unmet) reaches the outcome of the whole truth, for every boolean
    /// function of up to three criteria and every combination of them.
    #[test]
    fn skipping_what_cannot_matter_keeps_every_outcome() {
        for criteria in 0..=3usize {
            for bits in 0..=u8::MAX {
                let table = TruthTable::from_fn(criteria, |m| (bits >> m) & 1 == 1);
                for truth in 0..1u8 << criteria {
                    let mut met = 0;
                    for next in 0..criteria {
                        if table.matters(criteria, next, met) {
                            met |= truth & (1 << next);
                        }
                    }
                    assert_eq!(
                        table.holds(met),
                        table.holds(truth),
                        "{bits:08b} {truth:03b}"
                    );
                }
            }
        }
        let table = compile("(A AND B) OR C", &ABC).unwrap();
        assert!(!table.matters(3, 1, 0b000), "B once A failed");
        assert!(table.matters(3, 1, 0b001));
        assert!(table.matters(3, 2, 0b000), "C decides once A failed");
        assert!(!table.matters(3, 2, 0b011));
    }
}
