using System.Text.RegularExpressions;
using Vmm.Abstractions;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Engine;

public partial class OpCatalogTests
{
    [Fact]
    public void Default_ListsExactlyTheOpsOfTheOperationsTable()
    {
        var text = File.ReadAllText(Path.Combine(RepoRoot(), "docs", "scenario-format.md"));
        var table = text[text.IndexOf("\n## Operations", StringComparison.Ordinal)..text.IndexOf("\n## Outcomes", StringComparison.Ordinal)];
        // First column of each row: `guest.read`, or several ops as `host.read` / `host.write`.
        var documented = table.Split('\n')
            .Where(line => line.StartsWith("| `", StringComparison.Ordinal))
            .SelectMany(line => OpName().Matches(line.Split('|')[1]).Select(m => m.Groups[1].Value))
            .Order(StringComparer.Ordinal)
            .ToList();

        Assert.Equal(30, documented.Count);
        Assert.Equal(documented, OpCatalog.Default.Names.Order(StringComparer.Ordinal));
        Assert.Equal(OpCatalog.Default.Names, ScenarioParser.Ops);
    }

    [Fact]
    public void Default_EveryOpHasItsOwnNameAndPropertiesStartWithOpAndEndWithExpect()
    {
        foreach (var op in OpCatalog.Default.Ops)
        {
            Assert.Equal(op.Properties, ScenarioParser.PropertiesOf(op.Name));
            Assert.Equal("op", op.Properties[0]);
            Assert.Equal("expect", op.Properties[^1]);
            Assert.Equal(op.Properties.Count, op.Properties.Distinct(StringComparer.Ordinal).Count());
        }
    }

    public static TheoryData<string> Ops() => [.. OpCatalog.Default.Names];

    [Theory]
    [MemberData(nameof(Ops))]
    public void EachOp_RejectsAPropertyOfAnotherOp_WithItsOwnList(string op)
    {
        var definition = Assert.IsType<OpDefinition>(OpCatalog.Default.TryGet(op, out var found) ? found : null);
        var foreign = OpCatalog.Default.AllProperties.First(p => !definition.Properties.Contains(p));

        var error = ScenarioJson.StepError($$"""{ "op": "{{op}}", "{{foreign}}": 1 }""");

        Assert.Equal($"step 0 ({op}) does not use \"{foreign}\"; remove it ({op} takes: {string.Join(", ", definition.Properties)})", error.Message);
        Assert.Equal(4, error.Location.Line); // the steps line of ScenarioJson.WithSteps
    }

    [Fact]
    public void Catalog_WithTheSameOpTwice_IsRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => OpCatalog.Default.With(Inspect.Definition));

        Assert.StartsWith("op 'inspect' is listed twice", error.Message, StringComparison.Ordinal);
    }

    private const string FakeScenario = """
        {
          "name": "a fake op",
          "vms": [ { "name": "vm0", "memory": "4M", "backing": "shmem" } ],
          "steps": [ { "op": "test.stamp", "vm": "vm0", "gpa": "0x2000", "times": 3, "expect": "ok" } ]
        }
        """;

    [Fact]
    public void FakeOp_InATestCatalog_ParsesItsOwnPropertiesAndRuns()
    {
        var catalog = OpCatalog.Default.With(Stamp.Definition);

        var scenario = ScenarioParser.Parse(FakeScenario, "fake.json", catalog);
        var step = Assert.Single(scenario.Steps);
        Assert.Equal(new Stamp(3) { At = new StepAddress("vm0", 0x2000) }, step.Op);
        var m = TestMachine.Create(BackingKind.Shmem);
        var outcome = m.Simulation.Execute(step);

        Assert.Equal(OutcomeKind.Ok, outcome.Kind);
        Assert.Equal(new byte[] { 0x5a, 0x5a, 0x5a, 0 }, m.HostRead(0x2000, 4).Data);
    }

    [Fact]
    public void FakeOp_ChecksItsPropertiesWithTheParsersMessages()
    {
        var catalog = OpCatalog.Default.With(Stamp.Definition);

        var badValue = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(FakeScenario.Replace("\"times\": 3", "\"times\": 9", StringComparison.Ordinal), "fake.json", catalog));
        var otherOps = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(FakeScenario.Replace("\"times\": 3", "\"len\": 3", StringComparison.Ordinal), "fake.json", catalog));
        var outside = Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(FakeScenario.Replace("0x2000", "0x3ffffe", StringComparison.Ordinal), "fake.json", catalog));

        Assert.Equal("\"times\" must be between 1 and 4, not 9", badValue.Message);
        Assert.Equal("step 0 (test.stamp) does not use \"len\"; remove it (test.stamp takes: op, vm, gpa, times, expect)", otherOps.Message);
        Assert.StartsWith("step 0 (test.stamp): gpa 0x3ffffe + times 0x3 runs past the end of VM \"vm0\"", outside.Message, StringComparison.Ordinal);
        Assert.Throws<ScenarioException>(() => ScenarioParser.Parse(FakeScenario, "fake.json"));
    }

    /// <summary>An op outside the engine: writes 0x5a <c>times</c> times at vm+gpa through the VMM. One record, one catalog line.</summary>
    private sealed record Stamp(int Times) : StepOp
    {
        public static OpDefinition Definition { get; } = new("test.stamp", OpAddressing.VmGpa, [], ["times"], r => new Stamp((int)(r.Integer("times", 1, 4) ?? 1)));

        public override string Name => Definition.Name;

        protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Times, "times");

        public override KernelResult Execute(OpContext context)
        {
            var data = new byte[Times];
            Array.Fill(data, (byte)0x5a);
            return context.Kernel.Uaccess.UserAccess(context.Kernel.Vmm, new Hva(context.HostAddress()), context.WriteBuffer(data), write: true);
        }
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "docs", "scenario-format.md"))) return dir.FullName;
        throw new InvalidOperationException("docs/scenario-format.md not found above the test's directory");
    }

    [GeneratedRegex("`([a-z]+\\.[a-z-]+|inspect)`")]
    private static partial Regex OpName();
}
