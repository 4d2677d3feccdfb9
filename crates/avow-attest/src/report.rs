//! The step-by-step report that every verifier returns next to its plain `Result` function.

use crate::Error;

/// The outcome of one check in a step-by-step report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// The check failed with this error.
    Failed(Error),
    /// The check passed.
    Passed,
    /// The check could not run because the evidence could not be decoded.
    Skipped,
}

impl From<Result<(), Error>> for CheckOutcome {
    fn from(result: Result<(), Error>) -> Self {
        match result {
            Ok(()) => Self::Passed,
            Err(error) => Self::Failed(error),
        }
    }
}

/// The outcome of every check of one piece of evidence, and the proof type `V` when every
/// check passed. `C` is the provider's check enum.
///
/// Each provider names its report with an alias, such as
/// [`AndroidKeyReport`](crate::android_key::AndroidKeyReport).
#[derive(Clone, Debug)]
pub struct CheckReport<C, V> {
    outcomes: Vec<(C, CheckOutcome)>,
    verified: Option<V>,
    /// The evidence as named in the error of a report without failure and without result.
    what: &'static str,
}

impl<C: Copy, V> CheckReport<C, V> {
    /// Builds a report. `what` names the evidence in the [`Error::MissingField`] that
    /// [`into_result`](Self::into_result) returns when no check failed but `verified` is
    /// `None`, which the verifiers guard against.
    pub(crate) fn new(
        outcomes: Vec<(C, CheckOutcome)>,
        verified: Option<V>,
        what: &'static str,
    ) -> Self {
        Self {
            outcomes,
            verified,
            what,
        }
    }

    /// Builds the report of evidence that cannot be decoded: `checks[0]` (the structure
    /// check) failed with `error` and every later check is [`CheckOutcome::Skipped`].
    pub(crate) fn undecodable(checks: &[C], error: Error, what: &'static str) -> Self {
        let mut outcomes = Vec::with_capacity(checks.len());
        let mut checks = checks.iter();
        if let Some(first) = checks.next() {
            outcomes.push((*first, CheckOutcome::Failed(error)));
        }
        outcomes.extend(checks.map(|check| (*check, CheckOutcome::Skipped)));
        Self::new(outcomes, None, what)
    }

    /// Returns each check with its outcome, in the order the checks run.
    pub fn outcomes(&self) -> &[(C, CheckOutcome)] {
        &self.outcomes
    }

    /// Returns the first failed check and its error.
    pub fn first_failure(&self) -> Option<(C, &Error)> {
        self.outcomes
            .iter()
            .find_map(|(check, outcome)| match outcome {
                CheckOutcome::Failed(error) => Some((*check, error)),
                _ => None,
            })
    }

    /// Returns the verified result, or the error of the first failed check.
    ///
    /// # Errors
    ///
    /// The error of the first failed check.
    pub fn into_result(self) -> Result<V, Error> {
        if let Some((_, error)) = self.first_failure() {
            return Err(error.clone());
        }
        self.verified.ok_or(Error::MissingField { what: self.what })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_fails_first_and_skips_rest() {
        let report: CheckReport<u8, ()> =
            CheckReport::undecodable(&[1, 2, 3], Error::SignatureInvalid, "test evidence");
        assert_eq!(
            report.outcomes(),
            [
                (1, CheckOutcome::Failed(Error::SignatureInvalid)),
                (2, CheckOutcome::Skipped),
                (3, CheckOutcome::Skipped),
            ]
        );
        assert_eq!(report.first_failure(), Some((1, &Error::SignatureInvalid)));
        assert_eq!(report.into_result(), Err(Error::SignatureInvalid));
    }

    #[test]
    fn no_failure_without_result_names_evidence() {
        let report: CheckReport<u8, ()> =
            CheckReport::new(vec![(1, CheckOutcome::Passed)], None, "test evidence");
        assert_eq!(
            report.into_result(),
            Err(Error::MissingField {
                what: "test evidence"
            })
        );
    }

    #[test]
    fn outcome_from_result() {
        assert_eq!(CheckOutcome::from(Ok(())), CheckOutcome::Passed);
        assert_eq!(
            CheckOutcome::from(Err(Error::SignatureInvalid)),
            CheckOutcome::Failed(Error::SignatureInvalid)
        );
    }
}
