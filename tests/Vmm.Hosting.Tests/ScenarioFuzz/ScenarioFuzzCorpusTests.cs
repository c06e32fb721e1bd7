namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>
/// The minimal reproducers in Corpus/ (one per failure class of issue 8 and of the fuzzer; raw bytes, .bin when
/// not UTF-8; FINDINGS.md says what each one did): each must run, or be rejected with one ScenarioException naming
/// the file, within the time limit. Corpus/reject/ holds inputs that issue 8 says were accepted silently and must be
/// rejected. Read from the source tree, so a new reproducer needs no build step.
/// </summary>
[Collection(ScenarioFuzzCollection.Name)]
public sealed class ScenarioFuzzCorpusTests(ScenarioFuzzFixture fixture)
{
    private static string RejectDirectory => Path.Combine(ScenarioFuzzFixture.CorpusDirectory, "reject");

    public static TheoryData<string> Reproducers() => new(ReproducerFiles(ScenarioFuzzFixture.CorpusDirectory));

    public static TheoryData<string> MustReject() => new(ReproducerFiles(RejectDirectory));

    private static List<string> ReproducerFiles(string directory) =>
        Directory.EnumerateFiles(directory)
            .Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".bin", StringComparison.Ordinal))
            .Select(f => Path.GetFileName(f))
            .Order(StringComparer.Ordinal)
            .ToList();

    [Theory]
    [MemberData(nameof(Reproducers))]
    public void Reproducer_RunsOrIsRejectedWithAScenarioExceptionNamingTheFile_WithinTheTimeLimit(string file)
    {
        var verdict = fixture.Oracle.Check(Path.Combine(ScenarioFuzzFixture.CorpusDirectory, file));

        Assert.False(verdict.IsFailure, $"{file}: {verdict}");
    }

    [Theory]
    [MemberData(nameof(MustReject))]
    public void SilentlyAcceptedInput_IsRejectedWithAScenarioExceptionNamingTheFile(string file)
    {
        var verdict = fixture.Oracle.Check(Path.Combine(RejectDirectory, file));

        Assert.True(verdict.Kind == VerdictKind.Rejected, $"reject/{file}: {verdict}");
    }

    [Fact]
    public void Corpus_HasAReproducerForEveryClassOfIssue8()
    {
        var names = ReproducerFiles(ScenarioFuzzFixture.CorpusDirectory);

        foreach (var prefix in new[] { "utf8-", "surrogate-", "size-", "host-16384T", "convert-past-end", "convert-wide", "data-", "tdx-mackey-null", "tdx-mac-null", "hugetlb-host-over-16T" })
            Assert.True(names.Exists(n => n.StartsWith(prefix, StringComparison.Ordinal)), $"no reproducer named {prefix}* in {ScenarioFuzzFixture.CorpusDirectory}");
    }
}
