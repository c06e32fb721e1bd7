using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using CsCheck;
using Xunit.Abstractions;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// Issue 8's fuzz property: every generated scenario file (see <see cref="ScenarioGen"/>) either runs, or is
/// rejected with one <c>ScenarioException</c> that names the file, within 10 s; any other exception, a bad
/// message or a hang fails the test with each failure class, its shortest input and the input CsCheck shrank.
///
/// Quick mode (plain <c>dotnet test</c>): 500 inputs, a few seconds on 2 cores.
/// Long mode: <c>VMM_FUZZ_LONG=1</c> runs 100,000 inputs (<c>VMM_FUZZ_COUNT=N</c> runs N), a few minutes on 2
/// cores, and prints one summary line (inputs tried, ran, rejected, escaped, hung):
/// <c>VMM_FUZZ_LONG=1 dotnet test tests/Vmm.Hosting.Tests --filter FullyQualifiedName~ScenarioFuzzTests --logger "console;verbosity=detailed"</c>.
/// Also: <c>VMM_FUZZ_SEED=S VMM_FUZZ_COUNT=1</c> replays one input by its CsCheck seed; <c>VMM_FUZZ_CLASS=heavy</c>
/// generates only classes starting with that; <c>VMM_FUZZ_OUT=DIR</c> writes the shortest input of each failure
/// class there. A thread past its limit cannot be stopped and may keep a core busy: after a heavy generator class
/// hangs once its later inputs are not run, and after <c>VMM_FUZZ_MAX_HANGS</c> hangs (quick 2, long 10) no input is.
/// </summary>
[Collection(ScenarioFuzzCollection.Name)]
public sealed class ScenarioFuzzTests(ScenarioFuzzFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void GeneratedScenarios_RunOrAreRejectedWithAScenarioExceptionNamingTheFile_WithinTheTimeLimit()
    {
        var settings = FuzzSettings.FromEnvironment();
        var gen = new ScenarioGen(fixture.Vocabulary) { Only = settings.Only };
        var survey = new FuzzSurvey();
        var oracle = fixture.Oracle;
        var hangsBefore = oracle.Hangs;
        var inputs = 0;
        string NextPath() => Path.Combine(fixture.ScratchPath, $"input-{Interlocked.Increment(ref inputs)}.json");
        bool Stopped() => oracle.Hangs - hangsBefore >= settings.MaxHangs;
        var hungHeavy = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);

        var clock = Stopwatch.StartNew();
        gen.Sample(input =>
        {
            if (Stopped() || hungHeavy.ContainsKey(input.Class))
            {
                survey.NotRun();
                return;
            }
            var verdict = oracle.Check(input.Bytes, NextPath());
            survey.Record(input, verdict);
            if (verdict.Kind == VerdictKind.Hung && input.Class.StartsWith("heavy:", StringComparison.Ordinal)) hungHeavy[input.Class] = true;
        }, seed: settings.Seed, iter: settings.Count, threads: settings.Threads);
        var elapsed = clock.Elapsed;

        var report = survey.Report(elapsed, settings.Threads, generators: settings.Long);
        if (settings.OutDirectory is { } directory) survey.WriteShortest(directory);
        if (settings.Long) Console.WriteLine(survey.Summary(elapsed, settings.Threads));
        output.WriteLine(report);
        if (survey.Failed == 0) return;

        // CsCheck shrinks the commonest class that did not hang (each hang costs the whole limit) from its shortest input.
        var shrunk = "";
        if (survey.Failures.FirstOrDefault(f => f.Kind != VerdictKind.Hung) is { } target && !Stopped())
        {
            try
            {
                gen.Sample(input =>
                {
                    if (Stopped()) return;
                    var verdict = oracle.Check(input.Bytes, NextPath());
                    if (verdict.Class == target.Name) throw new InvalidOperationException(verdict.ToString());
                }, seed: target.Shortest!.Seed, iter: settings.ShrinkCount, threads: settings.Threads, print: input => input.ToString());
            }
            catch (CsCheckException e)
            {
                shrunk = $"{Environment.NewLine}CsCheck's shrunk input for \"{target.Name}\": {e.Message}";
            }
        }
        Assert.Fail(report + shrunk);
    }
}

/// <summary>The fuzz test's knobs, from the environment (see <see cref="ScenarioFuzzTests"/>).</summary>
internal sealed record FuzzSettings(bool Long, int Count, int ShrinkCount, int MaxHangs, int Threads, string? Seed, string? Only, string? OutDirectory)
{
    public const int QuickCount = 500;
    public const int LongCount = 100_000;

    public static FuzzSettings FromEnvironment()
    {
        var count = Number("VMM_FUZZ_COUNT");
        var isLong = Environment.GetEnvironmentVariable("VMM_FUZZ_LONG") == "1" || count is not null;
        return new FuzzSettings(
            isLong,
            count ?? (isLong ? LongCount : QuickCount),
            isLong ? 5000 : 300,
            Number("VMM_FUZZ_MAX_HANGS") ?? (isLong ? 10 : 2),
            Math.Max(Environment.ProcessorCount, 1),
            Text("VMM_FUZZ_SEED"),
            Text("VMM_FUZZ_CLASS"),
            Text("VMM_FUZZ_OUT"));
    }

    private static string? Text(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    private static int? Number(string name) => Text(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;
}
