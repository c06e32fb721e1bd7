using System.Globalization;

namespace Vmm.Hosting.Exporters;

/// <summary>What a span of console text means; a front end picks the colour (Spectre in <c>vmm</c>, CSS on a web page).</summary>
public enum ConsoleStyle
{
    Plain,

    /// <summary>A scenario's name.</summary>
    Emphasis,

    /// <summary>Where a scenario came from and what it ran on.</summary>
    Muted,

    /// <summary>A pass mark in a table, the summary of a run that passed.</summary>
    Success,

    /// <summary>A failed step's cells, the summary of a run that did not pass.</summary>
    Failure,

    /// <summary>The pass mark in front of a scenario's name.</summary>
    StrongSuccess,

    /// <summary>A fail mark.</summary>
    StrongFailure,

    Warning,
}

public enum ColumnAlignment
{
    Left,
    Right,
    Centre,
}

/// <summary>Text that a front end shows as it is (never parsed as markup), with what it means.</summary>
public readonly record struct ConsoleSpan(string Text, ConsoleStyle Style = ConsoleStyle.Plain);

/// <summary>One line of spans.</summary>
public sealed record ConsoleLine(IReadOnlyList<ConsoleSpan> Spans);

public sealed record ConsoleColumn(string Header, ColumnAlignment Alignment = ColumnAlignment.Left);

/// <summary>A table row: one cell per column; <see cref="Passed"/> is the step's verdict.</summary>
public sealed record ConsoleRow(IReadOnlyList<ConsoleSpan> Cells, bool Passed);

public sealed record ConsoleTable(IReadOnlyList<ConsoleColumn> Columns, IReadOnlyList<ConsoleRow> Rows);

/// <summary>One scenario: its heading line, its step table when shown, and lines under the table (its warnings).</summary>
public sealed record ConsoleScenario(ConsoleLine Heading, bool Passed, ConsoleTable? Table, IReadOnlyList<ConsoleLine> Notes);

/// <summary>
/// The console form of a run as plain data, which <c>vmm run</c> draws with Spectre.Console: a heading line per scenario
/// ("✓ NAME (FILE; SETUP)"), the step table (#, op, expected, actual, and the pass mark) of failing scenarios or of all,
/// and the summary line.
/// </summary>
public sealed record ConsoleTableModel(IReadOnlyList<ConsoleScenario> Scenarios, ConsoleLine Summary, bool Passed)
{
    private static readonly IReadOnlyList<ConsoleColumn> StepColumns =
    [
        new("#", ColumnAlignment.Right),
        new("op"),
        new("expected"),
        new("actual"),
        new("", ColumnAlignment.Centre),
    ];

    /// <summary>
    /// The model of <paramref name="report"/>: step tables for failing scenarios, or for all when <paramref name="allTables"/>;
    /// marks "✓"/"✗" when <paramref name="unicode"/>, else "ok"/"FAIL".
    /// </summary>
    public static ConsoleTableModel From(RunReport report, bool allTables = true, bool unicode = true)
    {
        ArgumentNullException.ThrowIfNull(report);
        var passMark = unicode ? "✓" : "ok";
        var failMark = unicode ? "✗" : "FAIL";
        var scenarios = new List<ConsoleScenario>(report.Scenarios.Count);
        foreach (var scenario in report.Scenarios)
        {
            var heading = new ConsoleLine(
            [
                new(scenario.Passed ? passMark : failMark, scenario.Passed ? ConsoleStyle.StrongSuccess : ConsoleStyle.StrongFailure),
                new(" "),
                new(scenario.Name, ConsoleStyle.Emphasis),
                new(" "),
                new($"({scenario.File}; {scenario.Setup})", ConsoleStyle.Muted),
            ]);
            if (scenario.Passed && !allTables)
            {
                scenarios.Add(new ConsoleScenario(heading, scenario.Passed, null, []));
                continue;
            }
            var rows = scenario.Steps.Select(step =>
            {
                var style = step.Passed ? ConsoleStyle.Plain : ConsoleStyle.Failure;
                return new ConsoleRow(
                [
                    new(step.Index.ToString(CultureInfo.InvariantCulture), style),
                    new(step.Op, style),
                    new(step.ExpectedText ?? "-", style),
                    new(step.ActualText, style),
                    step.Passed ? new(passMark, ConsoleStyle.Success) : new(failMark, ConsoleStyle.StrongFailure),
                ], step.Passed);
            }).ToList();
            var notes = scenario.Warnings
                .Select(w => new ConsoleLine([new("  "), new("warning:", ConsoleStyle.Warning), new(" " + w)]))
                .ToList();
            scenarios.Add(new ConsoleScenario(heading, scenario.Passed, new ConsoleTable(StepColumns, rows), notes));
        }
        var tally = report.Tally;
        return new ConsoleTableModel(
            scenarios,
            new ConsoleLine([new(tally.ToString(), tally.AllPassed ? ConsoleStyle.Success : ConsoleStyle.Failure)]),
            tally.AllPassed);
    }
}
