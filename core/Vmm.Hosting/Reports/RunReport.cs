using System.Globalization;
using System.Text;

namespace Vmm.Hosting;

/// <summary>
/// Everything a run of many files produced: the scenarios that ran to their end, the bad input (<see cref="Errors"/>),
/// the scenarios a time limit stopped and the files a bug stopped. <see cref="Ran"/> is false when validation found
/// problems and the batch was told not to run anything then.
/// </summary>
public sealed record RunReport(
    IReadOnlyList<ScenarioReport> Scenarios,
    IReadOnlyList<Diagnostic> Errors,
    IReadOnlyList<TimedOutScenario> TimedOut,
    IReadOnlyList<InternalError> InternalErrors,
    bool Ran = true)
{
    public RunTally Tally => new(
        Scenarios.Count(s => s.Passed),
        Scenarios.Count(s => !s.Passed),
        Errors.Count,
        TimedOut.Count,
        InternalErrors.Count);
}

/// <summary>A scenario that a time limit stopped after <see cref="StepsDone"/> of <see cref="StepCount"/> steps; <see cref="Message"/> says where and what to do.</summary>
public sealed record TimedOutScenario(string File, string Name, TimeSpan Limit, int StepsDone, int StepCount, string Message);

/// <summary>A file that a bug (not bad input) stopped; <see cref="Details"/> is the exception with its stack trace.</summary>
public sealed record InternalError(string File, string Details)
{
    public string Message => $"{File}: internal error (a bug; please report it): {Details}";
}

/// <summary>How a run's files ended; the summary line is "N scenarios, P passed, F failed" plus each other count that is not zero.</summary>
public sealed record RunTally(int Passed, int Failed, int Invalid, int TimedOut, int InternalErrors)
{
    public int Total => Passed + Failed + Invalid + TimedOut + InternalErrors;

    public bool AllPassed => Passed == Total;

    public override string ToString()
    {
        var text = new StringBuilder($"{Total} scenarios, {Passed} passed, {Failed} failed");
        if (Invalid > 0) text.Append(CultureInfo.InvariantCulture, $", {Invalid} invalid");
        if (TimedOut > 0) text.Append(CultureInfo.InvariantCulture, $", {TimedOut} timed out");
        if (InternalErrors > 0) text.Append(CultureInfo.InvariantCulture, $", {InternalErrors} internal {(InternalErrors == 1 ? "error" : "errors")}");
        return text.ToString();
    }
}
