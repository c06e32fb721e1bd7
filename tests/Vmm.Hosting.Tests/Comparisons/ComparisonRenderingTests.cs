using Vmm.Hosting.Exporters;

namespace Vmm.Hosting.Tests.Comparisons;

/// <summary>The comparison's tables, Markdown and CSV from fixed results, pinned exactly (as BenchmarkDotNet pins its summary tables).</summary>
public sealed class ComparisonRenderingTests
{
    private static readonly MetricInfo[] Metrics =
    [
        new("panics", "safety", "host panics", true),
        new("SIGBUS", "availability", "SIGBUS delivered to the VMM", true),
        new("model µs", "cost", "modelled time", true),
    ];

    private static StackRow Row(string stack, bool baseline, double panics, double sigbus, double time, double? ratio, double sd = 0) =>
        new(stack, baseline, new Dictionary<string, MetricValue>
        {
            ["panics"] = new(panics, 0),
            ["SIGBUS"] = new(sigbus, sd),
            ["model µs"] = new(time, 0),
        }, ratio, 1.5, 10);

    private static Dictionary<string, double> Ns(params (string Kind, double Ns)[] kinds) => kinds.ToDictionary(k => k.Kind, k => k.Ns);

    private static ComparisonReport Fixed(double v2Panics = 0, int repeat = 1, double sd = 0) => new(
        [new WorkloadTable("attack", "The VMM attacks.",
        [
            Row("tdx-ci+none", true, 3, 0, 100, 1.0) with { ModelledNanosecondsByKind = Ns(("EptFault", 60_000), ("Conversion", 40_000)) },
            Row("tdx-ci+hwpoison-v2", false, v2Panics, 4, 125, 1.25, sd) with { ModelledNanosecondsByKind = Ns(("EptFault", 60_000), ("Conversion", 40_000), ("MmuLockWrite", 25_000)) },
        ])],
        Metrics,
        "tdx-ci+none",
        7,
        repeat,
        null,
        2 * repeat,
        TimeSpan.FromSeconds(1.2),
        Conclusions.Of(
        [new WorkloadTable("attack", "The VMM attacks.",
        [
            Row("tdx-ci+none", true, 3, 0, 100, 1.0),
            Row("tdx-ci+hwpoison-v2", false, v2Panics, 4, 125, 1.25),
        ])], "tdx-ci+none"));

    [Fact]
    public void Tables_FixedReport_BaselineMarkedRatioColumnAndLegend()
    {
        var table = Assert.Single(ComparisonTables.From(Fixed()));

        Assert.Equal(["Stack", "", "panics", "SIGBUS", "model µs", "Ratio", "wall ms"], table.Table.Columns.Select(c => c.Header));
        Assert.Equal(["tdx-ci+none", "baseline", "3", "0", "100", "1.00", "1.5"], table.Table.Rows[0].Cells.Select(c => c.Text));
        Assert.Equal(["tdx-ci+hwpoison-v2", "", "0", "4", "125", "1.25", "1.5"], table.Table.Rows[1].Cells.Select(c => c.Text));
        Assert.Equal(ConsoleStyle.Failure, table.Table.Rows[0].Cells[2].Style);
        Assert.Equal(ConsoleStyle.Plain, table.Table.Rows[1].Cells[2].Style);
        Assert.Equal(
            [
                "panics: host panics (safety)",
                "SIGBUS: SIGBUS delivered to the VMM (availability)",
                "model µs: modelled time (cost)",
                "Ratio: modelled time against the baseline row (tdx-ci+none)",
                "wall ms: the simulator's own time for the run",
            ],
            table.Legend);
    }

    [Fact]
    public void Tables_ZeroEverywhereMetric_IsLeftOutAndNamedInTheLegend()
    {
        var table = Assert.Single(ComparisonTables.From(Fixed() with
        {
            Workloads = [new WorkloadTable("quiet", "", [Row("a", true, 0, 0, 10, 1.0), Row("b", false, 0, 0, 20, 2.0)])],
        }, wallTime: false));

        Assert.Equal(["Stack", "", "model µs", "Ratio"], table.Table.Columns.Select(c => c.Header));
        Assert.Equal("0 under every stack, not shown: panics, SIGBUS", table.Legend[^1]);
    }

    [Fact]
    public void Tables_Repeated_CellsShowMeanAndSpread()
    {
        var table = Assert.Single(ComparisonTables.From(Fixed(repeat: 3, sd: 0.5)));

        Assert.Equal("4 ±0.5", table.Table.Rows[1].Cells[3].Text);
        Assert.Equal("cells: mean ± standard deviation over 3 seeds", table.Legend[^1]);
    }

    [Fact]
    public void Markdown_FixedReport_IsExactlyThisDocument()
    {
        var writer = new StringWriter();
        ComparisonExporters.Find("md")!.Export(Fixed(), writer);

        Assert.Equal(
            """
            # vmm compare

            1 workloads × 2 stacks × 1 seed = 2 runs, seed 7, baseline tdx-ci+none, 1.2 s

            ## attack

            The VMM attacks.

            | Stack |  | panics | SIGBUS | model µs | Ratio | wall ms |
            | --- | --- | --: | --: | --: | --: | --: |
            | **tdx-ci+none** | baseline | 3 | 0 | 100 | 1.00 | 1.5 |
            | tdx-ci+hwpoison-v2 |  | 0 | 4 | 125 | 1.25 | 1.5 |

            - panics: host panics (safety)
            - SIGBUS: SIGBUS delivered to the VMM (availability)
            - model µs: modelled time (cost)
            - Ratio: modelled time against the baseline row (tdx-ci+none)
            - wall ms: the simulator's own time for the run

            Modelled time by event kind (µs):

            | Stack |  | EptFault | Conversion | MmuLockWrite | model µs |
            | --- | --- | --: | --: | --: | --: |
            | **tdx-ci+none** | baseline | 60 | 40 | 0 | 100 |
            | tdx-ci+hwpoison-v2 |  | 60 | 40 | 25 | 125 |

            - cells: modelled µs of each counted event kind (count × its cost.* figure, docs/costs.md), mean over the repeats; the most expensive kinds first

            ## Conclusions

            - attack: tdx-ci+hwpoison-v2 prevents all 3 host panics of tdx-ci+none.
            - attack: modelled time from tdx-ci+none 1.00× to tdx-ci+hwpoison-v2 1.25× of tdx-ci+none's.

            """.ReplaceLineEndings("\n"),
            writer.ToString());
    }

    [Fact]
    public void TimeByKind_MoreKindsThanTheLimit_MostExpensiveFirstThenOther()
    {
        var table = Assert.Single(ComparisonTables.TimeByKind(Fixed(), kinds: 1));

        Assert.Equal(["Stack", "", "EptFault", "other", "model µs"], table.Table.Columns.Select(c => c.Header));
        Assert.Equal(["tdx-ci+hwpoison-v2", "", "60", "65", "125"], table.Table.Rows[1].Cells.Select(c => c.Text));
        Assert.Equal("other: Conversion, MmuLockWrite", table.Legend[^1]);
        // One kind over the limit gets its own column: an "other" of one would hide its name for nothing.
        Assert.Equal(["Stack", "", "EptFault", "Conversion", "MmuLockWrite", "model µs"], Assert.Single(ComparisonTables.TimeByKind(Fixed(), kinds: 2)).Table.Columns.Select(c => c.Header));
    }

    [Fact]
    public void Csv_FixedReport_IsExactlyThisDocument()
    {
        var writer = new StringWriter();
        ComparisonExporters.Find("csv")!.Export(Fixed(), writer);

        Assert.Equal(
            """
            workload,stack,baseline,steps,panics,panics sd,SIGBUS,SIGBUS sd,model µs,model µs sd,ratio
            attack,tdx-ci+none,true,10,3,0,0,0,100,0,1
            attack,tdx-ci+hwpoison-v2,false,10,0,0,4,0,125,0,1.25

            """.ReplaceLineEndings("\n"),
            writer.ToString());
    }

    [Fact]
    public void Conclusions_PanicsOfTheDesign_FlipFromPreventsToHas()
    {
        Assert.Contains("prevents all 3 host panics of tdx-ci+none", Fixed(v2Panics: 0).Conclusions[0], StringComparison.Ordinal);
        Assert.Contains("cuts host panics from 3 to 1", Fixed(v2Panics: 1).Conclusions[0], StringComparison.Ordinal);
        Assert.Contains("has 5 host panics where tdx-ci+none has 3", Fixed(v2Panics: 5).Conclusions[0], StringComparison.Ordinal);
    }
}

/// <summary>The chart models: what the CLI draws with ScottPlot and a web page would draw as SVG.</summary>
public sealed class ComparisonChartsTests
{
    [Fact]
    public void From_FixedReport_SafetyStackedPerStackAndCostRatiosPerWorkload()
    {
        StackRow Row(string stack, double panics, double killed, double? ratio) => new(stack, stack == "a", new Dictionary<string, MetricValue>
        {
            ["panics"] = new(panics, 0),
            ["killed"] = new(killed, 0),
        }, ratio, 1, 1);
        var report = new ComparisonReport(
            [new WorkloadTable("w1", "", [Row("a", 1, 0, 1.0), Row("b", 0, 2, 1.5)]), new WorkloadTable("w2", "", [Row("a", 2, 0, 1.0), Row("b", 0, 0, 0.5)])],
            [], "a", 1, 1, null, 4, TimeSpan.Zero, []);

        var charts = ComparisonCharts.From(report);

        var safety = charts.Single(c => c.Name == "safety");
        Assert.True(safety.Stacked);
        Assert.Equal(["a", "b"], safety.Categories);
        Assert.Equal([3.0, 0.0], safety.Series.Single(s => s.Name == "panics").Values);
        Assert.Equal([0.0, 2.0], safety.Series.Single(s => s.Name == "killed").Values);
        var cost = charts.Single(c => c.Name == "cost");
        Assert.False(cost.Stacked);
        Assert.Equal(["w1", "w2"], cost.Series.Select(s => s.Name));
        Assert.Equal([1.0, 0.5], cost.Series[1].Values);
        Assert.Equal("Modelled time against a", cost.Title);
    }
}

/// <summary>Conclusions in words, from fixed tables.</summary>
public sealed class ConclusionsTests
{
    private static StackRow Row(string stack, bool baseline, double? ratio, params (string Metric, double Value)[] metrics) =>
        new(stack, baseline, metrics.ToDictionary(m => m.Metric, m => new MetricValue(m.Value, 0)), ratio, 1, 1);

    [Fact]
    public void Of_SafetyPartsPerStack_ThenTheRangeOfModelledTime()
    {
        var table = new WorkloadTable("w", "",
        [
            Row("base", true, 1.0, ("panics", 2), ("leaked B", 0), ("kvm B", 0)),
            Row("a", false, 0.5, ("panics", 2), ("leaked B", 64), ("kvm B", 64)),
            Row("b", false, 1.25, ("panics", 1), ("leaked B", 0), ("kvm B", 0)),
        ]);

        var lines = Conclusions.Of([table], "base");

        Assert.Equal(
            [
                "w: a has 64 bytes of guest plaintext leaked to the host where base has 0.",
                "w: b cuts host panics from 2 to 1.",
                "w: modelled time from a 0.50× to b 1.25× of base's.",
            ],
            lines);
    }

    [Fact]
    public void Of_NoBaselineRowOrNoDifference_SaysNothing()
    {
        Assert.Empty(Conclusions.Of([new WorkloadTable("w", "", [Row("a", false, null, ("panics", 1))])], "base"));
        Assert.Empty(Conclusions.Of([new WorkloadTable("w", "", [Row("base", true, 1.0, ("panics", 1)), Row("a", false, 1.0, ("panics", 1))])], "base"));
    }

    [Theory]
    [InlineData(3.0, "3")]
    [InlineData(0.5, "0.5")]
    [InlineData(2.125, "2.13")]
    public void Number_WholeNumbersPlain_OthersToTwoPlaces(double value, string text) => Assert.Equal(text, Conclusions.Number(value));
}
