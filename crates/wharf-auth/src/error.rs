//! Each way a request can be refused before it reaches a handler, with the
//! error AWS answers it with. The JSON services (ECS, Logs, SSM, Secrets
//! Manager) and the Query services (ELBv2, STS) name the same refusal
//! differently, and send it with different HTTP codes.

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No signature at all (neither an `Authorization` header nor a presigned query).
    #[error("Missing Authentication Token")]
    MissingToken,
    /// A signature that cannot be read (a part missing, a bad date).
    #[error("{0}")]
    Incomplete(String),
    /// An access key (or session token) Wharf did not issue.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// The signature does not match the request. `details` is AWS's
    /// explanation with the canonical request and the string to sign the
    /// server computed (which hold no secret).
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.{details}")]
    BadSignature {
        /// AWS's appendix: the canonical string and string to sign expected.
        details: String,
    },
    /// The signature's time is outside the allowed window, or the
    /// presigned URL has expired; the message says which, as AWS does.
    #[error("{0}")]
    Expired(String),
    /// The credential scope names another service or an unusable region.
    #[error("{0}")]
    WrongScope(String),
    /// The session token has expired.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    /// The caller is not allowed to do this; the message is IAM's sentence.
    #[error("{0}")]
    AccessDenied(String),
}

impl AuthError {
    /// The `__type` an AWS JSON 1.1 service (ECS, Logs, SSM, Secrets Manager) answers with.
    pub fn json_type(&self) -> &'static str {
        match self {
            Self::MissingToken => "MissingAuthenticationTokenException",
            Self::Incomplete(_) => "IncompleteSignatureException",
            Self::UnknownKey => "UnrecognizedClientException",
            Self::BadSignature { .. } | Self::Expired(_) | Self::WrongScope(_) => {
                "InvalidSignatureException"
            }
            Self::ExpiredToken => "ExpiredTokenException",
            Self::AccessDenied(_) => "AccessDeniedException",
        }
    }

    /// The HTTP status of the JSON services' answer (400 throughout, as Coral services send).
    pub fn json_status(&self) -> u16 {
        400
    }

    /// The `Code` a Query service (ELBv2, STS) answers with.
    pub fn query_code(&self) -> &'static str {
        match self {
            Self::MissingToken => "MissingAuthenticationToken",
            Self::Incomplete(_) => "IncompleteSignature",
            Self::UnknownKey => "InvalidClientTokenId",
            Self::BadSignature { .. } | Self::Expired(_) | Self::WrongScope(_) => {
                "SignatureDoesNotMatch"
            }
            Self::ExpiredToken => "ExpiredToken",
            Self::AccessDenied(_) => "AccessDenied",
        }
    }

    /// The HTTP status of the Query services' answer.
    pub fn query_status(&self) -> u16 {
        match self {
            Self::Incomplete(_) => 400,
            _ => 403,
        }
    }

    /// The message of the Query services' answer (AWS's Query services say
    /// "Request is missing Authentication Token").
    pub fn query_message(&self) -> String {
        match self {
            Self::MissingToken => "Request is missing Authentication Token".into(),
            other => other.to_string(),
        }
    }
}
