//! `x-amzn-RequestId` values: UUID-shaped, unique within the process and
//! unpredictable across processes, without a system call per request.

/// A fresh request id in the UUID version 4 text form.
pub fn next() -> String {
    wharf_model::ids::uuid_v4()
}
