using Vmm.Hosting.Exporters;

namespace Vmm.Hosting.Tests.Exporters;

public sealed class ConsoleTableModelTests
{
    [Fact]
    public void From_FailingTablesOnly_GivesPassingScenariosJustTheirHeading()
    {
        var model = ConsoleTableModel.From(FakeRuns.Mixed, allTables: false);

        Assert.Null(model.Scenarios[0].Table);
        Assert.Equal(
            [new("✓", ConsoleStyle.StrongSuccess), new(" "), new("K1: a VMM touch gets SIGBUS", ConsoleStyle.Emphasis), new(" "),
             new("(scenarios/k01.json; memory plain, policy none, kernel 5.16)", ConsoleStyle.Muted)],
            model.Scenarios[0].Heading.Spans);
        var failing = model.Scenarios[1].Table!;
        Assert.Equal(["#", "op", "expected", "actual", ""], failing.Columns.Select(c => c.Header));
        Assert.Equal([ColumnAlignment.Right, ColumnAlignment.Left, ColumnAlignment.Left, ColumnAlignment.Left, ColumnAlignment.Centre], failing.Columns.Select(c => c.Alignment));
        var row = Assert.Single(failing.Rows);
        Assert.False(row.Passed);
        Assert.Equal(
            [new("1", ConsoleStyle.Failure), new("inspect", ConsoleStyle.Failure), new("state hwpoison=true", ConsoleStyle.Failure),
             new("state hwpoison=false", ConsoleStyle.Failure), new("✗", ConsoleStyle.StrongFailure)],
            row.Cells);
        Assert.Equal([new("  "), new("warning:", ConsoleStyle.Warning), new(" hwpoison: 33 shared ranges, the cap is 32")], Assert.Single(model.Scenarios[1].Notes).Spans);
        Assert.Equal([new("5 scenarios, 1 passed, 1 failed, 1 invalid, 1 timed out, 1 internal error", ConsoleStyle.Failure)], model.Summary.Spans);
        Assert.False(model.Passed);
    }

    [Fact]
    public void From_WithoutUnicode_MarksOkAndFail()
    {
        var model = ConsoleTableModel.From(new RunReport([FakeRuns.Passing], [], [], []), allTables: true, unicode: false);

        var scenario = Assert.Single(model.Scenarios);
        Assert.Equal("ok", scenario.Heading.Spans[0].Text);
        Assert.Equal(["ok", "ok", "ok"], scenario.Table!.Rows.Select(r => r.Cells[^1].Text));
        Assert.Equal(new ConsoleSpan("ok", ConsoleStyle.Success), scenario.Table.Rows[0].Cells[^1]);
        Assert.Equal(new ConsoleSpan("1", ConsoleStyle.Plain), scenario.Table.Rows[0].Cells[0]);
        Assert.Equal("-", scenario.Table.Rows[2].Cells[2].Text);
        Assert.Equal(new ConsoleSpan("1 scenarios, 1 passed, 0 failed", ConsoleStyle.Success), Assert.Single(model.Summary.Spans));
        Assert.True(model.Passed);
    }
}
