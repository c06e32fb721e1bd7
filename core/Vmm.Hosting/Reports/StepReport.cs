namespace Vmm.Hosting;

/// <summary>
/// One step as reports show it. <see cref="ExpectedJson"/> and <see cref="ActualJson"/> are the contract's outcome JSON
/// (compact, e.g. <c>{"sigbus":{"code":"BUS_MCEERR_AR","lsb":12}}</c>); the texts are one-line descriptions for tables,
/// where <see cref="ActualText"/> of a <c>state</c> names only the fields the expectation names.
/// No expectation (null) means the outcome is only recorded and the step passed.
/// </summary>
public sealed record StepReport(
    int Index,
    string Op,
    string? ExpectedJson,
    string? ExpectedText,
    string ActualJson,
    string ActualText,
    bool Passed,
    string? Reason = null);
