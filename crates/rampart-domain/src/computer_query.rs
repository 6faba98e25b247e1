//! Landscape's computer search syntax: space-separated terms, joined by `AND` unless an `OR`
//! stands between them; each term is `tag:NAME`, `access-group:NAME`, `id:N`, or a bare word
//! matched against hostname and title. `AND` binds tighter than `OR`, so the query is a list of
//! alternatives, each a list of terms that must all hold.

use crate::profile::shorten;

/// One condition on a computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Tag(String),
    AccessGroup(String),
    Id(i64),
    /// A case-insensitive substring of the hostname or title (already lower-cased).
    Text(String),
}

/// A parsed query: any alternative matching is enough; every term of an alternative must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComputerQuery {
    pub alternatives: Vec<Vec<Term>>,
}

impl ComputerQuery {
    /// At most 50 terms; an empty query matches every computer.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut alternatives = vec![Vec::new()];
        let mut expect_term = true;
        let mut count = 0;
        for word in text.split_whitespace() {
            match word {
                "OR" | "AND" if expect_term => {
                    return Err(format!("`query`: `{word}` must stand between two terms"));
                }
                "OR" => {
                    alternatives.push(Vec::new());
                    expect_term = true;
                }
                "AND" => expect_term = true,
                _ => {
                    count += 1;
                    if count > 50 {
                        return Err("`query` may hold at most 50 terms".into());
                    }
                    let term = Self::term(word)?;
                    alternatives.last_mut().expect("never empty").push(term);
                    expect_term = false;
                }
            }
        }
        if expect_term && count > 0 {
            return Err("`query` must not end with `OR` or `AND`".into());
        }
        if count == 0 {
            alternatives.clear();
        }
        Ok(Self { alternatives })
    }

    fn term(word: &str) -> Result<Term, String> {
        let bad = |what: &str| format!("`query`: `{}` {what}", shorten(word));
        match word.split_once(':') {
            Some(("tag", name)) if !name.is_empty() => Ok(Term::Tag(name.to_owned())),
            Some(("access-group", name)) if !name.is_empty() => {
                Ok(Term::AccessGroup(name.to_owned()))
            }
            Some(("id", n)) => n
                .parse::<i64>()
                .map(Term::Id)
                .map_err(|_| bad("needs a whole number after `id:`")),
            Some((key, _)) if ["tag", "access-group"].contains(&key) => {
                Err(bad("needs a name after the colon"))
            }
            Some((key, _)) => Err(bad(&format!(
                "uses an unknown key `{}`; use tag:, access-group:, id: or a bare word",
                shorten(key)
            ))),
            None => Ok(Term::Text(word.to_lowercase())),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_joined_by_and_unless_or_stands_between() {
        let q = ComputerQuery::parse("tag:web OR tag:db access-group:eu Web01").unwrap();
        assert_eq!(
            q.alternatives,
            vec![
                vec![Term::Tag("web".into())],
                vec![
                    Term::Tag("db".into()),
                    Term::AccessGroup("eu".into()),
                    Term::Text("web01".into())
                ],
            ]
        );
        let and = ComputerQuery::parse("tag:a AND id:7").unwrap();
        assert_eq!(
            and.alternatives,
            vec![vec![Term::Tag("a".into()), Term::Id(7)]]
        );
    }

    #[test]
    fn an_empty_query_matches_everything() {
        assert!(ComputerQuery::parse("   ").unwrap().is_empty());
    }

    #[test]
    fn malformed_queries_are_refused_with_the_term() {
        for bad in [
            "OR tag:a",
            "tag:a OR",
            "tag:a OR OR tag:b",
            "tag:",
            "id:x",
            "colour:red",
            "AND",
        ] {
            let err = ComputerQuery::parse(bad).unwrap_err();
            assert!(err.contains("query"), "{bad}: {err}");
        }
        let many = vec!["tag:a"; 51].join(" ");
        assert!(ComputerQuery::parse(&many).is_err());
    }
}
