using System.Text;
using CsCheck;
using Microsoft.Extensions.DependencyInjection;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;
using Vmm.Tests.Infrastructure;

namespace Vmm.Hosting.Tests.ScenarioFuzz;

/// <summary>The harness itself: the oracle tells each verdict apart, and the generator reaches every class and mostly writes runnable documents.</summary>
[Collection(ScenarioFuzzCollection.Name)]
public sealed class ScenarioFuzzHarnessTests(ScenarioFuzzFixture fixture) : IDisposable
{
    private readonly ScratchDirectory _scratch = new();

    [Fact]
    public void Oracle_RepositoryScenario_Ran()
    {
        var verdict = fixture.Oracle.Check(fixture.Vocabulary.Seeds[0].Path);

        Assert.Equal(VerdictKind.Ran, verdict.Kind);
    }

    [Fact]
    public void Oracle_MalformedJson_IsRejectedNamingTheFile()
    {
        var path = Path.Combine(_scratch.Path, "bad.json");

        var verdict = fixture.Oracle.Check("{\"name\": "u8.ToArray(), path);

        Assert.Equal(VerdictKind.Rejected, verdict.Kind);
        Assert.StartsWith(path, verdict.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("throws", VerdictKind.Escaped, "InvalidOperationException in Vmm.Core.Engine.ScenarioRunner.Start")]
    [InlineData("sleeps", VerdictKind.Hung, "hang in Run: machine setup or host.fork")]
    [InlineData("names another file", VerdictKind.BadMessage, "ScenarioException that does not name the file")]
    [InlineData("says two lines", VerdictKind.BadMessage, "ScenarioException that spans more than one line")]
    [InlineData("echoes the input", VerdictKind.BadMessage, "ScenarioException that is longer than 1000 characters")]
    [InlineData("runs", VerdictKind.Ran, "ran")]
    public void Oracle_MachineThatMisbehaves_GetsItsVerdict(string behaviour, VerdictKind expected, string classStart)
    {
        using var host = VmmHost.Load(Path.Combine(TestPaths.RepoRoot, "plugins.json"), services => services.AddSingleton<IScenarioMachineFactory>(new MisbehavingFactory()));
        var oracle = new ScenarioOracle(host, TimeSpan.FromMilliseconds(300));
        var path = Path.Combine(_scratch.Path, "scenario.json");

        var verdict = oracle.Check(Encoding.UTF8.GetBytes($"{{\"name\": \"{behaviour}\", \"steps\": [{{\"op\": \"host.fork\"}}]}}"), path);

        Assert.Equal(expected, verdict.Kind);
        Assert.StartsWith(classStart, verdict.Class, StringComparison.Ordinal);
    }

    [Fact]
    public void Generator_DrawsEveryClass()
    {
        var gen = new ScenarioGen(fixture.Vocabulary);
        var heavy = new ScenarioGen(fixture.Vocabulary) { Only = "heavy" };
        var pcg = new PCG(1, 8);

        var classes = Enumerable.Range(0, 3000).Select(i => gen.Generate(pcg, null, out _).Class).ToList();
        var heavyClasses = Enumerable.Range(0, 20).Select(i => heavy.Generate(pcg, null, out _).Class).ToHashSet();

        foreach (var prefix in new[] { "generated", "generated+slips", "generated+hazard", "seed-file", "seed-file+tokens:", "bytes:invalid-utf8", "bytes:surrogate", "bytes:truncate", "bytes:delete-brace", "targeted:tdx-options", "targeted:convert-past-end", "targeted:hugetlb-big-host", "targeted:wrapping-sizes" })
            Assert.Contains(classes, c => c.StartsWith(prefix, StringComparison.Ordinal));
        Assert.Equal(["heavy:huge-data", "heavy:huge-host", "heavy:wide-convert"], heavyClasses.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Generator_SameSeed_SameInput()
    {
        var gen = new ScenarioGen(fixture.Vocabulary);
        var first = gen.Generate(new PCG(3, 99), null, out _);

        var again = gen.Generate(PCG.Parse(first.Seed), null, out _);

        Assert.Equal(first.Bytes, again.Bytes);
    }

    /// <summary>Documents that follow the parser's rules reach Run: the few that do not fail at run time (a frame op on a gpa with no frame).</summary>
    [Fact]
    public void Generator_WellFormedDocuments_AlmostAllRun()
    {
        var (ran, count) = RunClass("generated", 200);

        Assert.True(ran >= count * 9 / 10, $"only {ran} of {count} well-formed generated documents validate and run; each should follow the parser's rules");
    }

    /// <summary>The classes meant to be bad input mostly are: otherwise the fuzz test would only exercise Run.</summary>
    [Theory]
    [InlineData("generated+hazard", 20)]
    [InlineData("bytes", 30)]
    [InlineData("targeted", 60)]
    public void Generator_BadInputClasses_MostlyDoNotRun(string only, int maxPercentRun)
    {
        var (ran, count) = RunClass(only, 100);

        Assert.True(ran * 100 <= count * maxPercentRun, $"{ran} of {count} {only} documents ran; at most {maxPercentRun} % should");
    }

    private (int Ran, int Count) RunClass(string only, int count)
    {
        var gen = new ScenarioGen(fixture.Vocabulary) { Only = only };
        var pcg = new PCG(2, 5);
        var ran = 0;
        for (var i = 0; i < count;)
        {
            var input = gen.Generate(pcg, null, out _);
            if (input.Class != only && !input.Class.StartsWith(only + ":", StringComparison.Ordinal)) continue;
            var verdict = fixture.Oracle.Check(input.Bytes, Path.Combine(_scratch.Path, $"g{i++}.json"));
            if (verdict.Kind == VerdictKind.Ran) ran++;
        }
        return (ran, count);
    }

    public void Dispose() => _scratch.Dispose();

    /// <summary>A machine factory that misbehaves as the scenario's name says, or builds the real machine.</summary>
    private sealed class MisbehavingFactory : IScenarioMachineFactory
    {
        public IScenarioMachine Create(Scenario scenario, SimulationComponents components)
        {
            var here = new SourceLocation(scenario.File, 1, 1);
            switch (scenario.Name)
            {
                case "throws": throw new InvalidOperationException("a bug");
                case "sleeps": Thread.Sleep(1500); break;
                case "names another file": throw new ScenarioException("bad", new SourceLocation("other.json", 1, 1));
                case "says two lines": throw new ScenarioException("bad\nworse", here);
                case "echoes the input": throw new ScenarioException(new string('x', 5000), here);
            }
            return new SimulationMachineFactory().Create(scenario, components);
        }
    }
}
