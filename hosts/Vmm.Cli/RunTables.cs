using Spectre.Console;
using Vmm.Hosting;
using Vmm.Hosting.Exporters;

namespace Vmm.Cli;

/// <summary>Draws Hosting's <see cref="ConsoleTableModel"/> with Spectre.Console; every string is rendered as <see cref="Text"/>, never parsed as markup.</summary>
internal static class RunTables
{
    public static void Write(IAnsiConsole console, RunReport report, bool allTables)
    {
        var unicode = console.Profile.Capabilities.Unicode;
        var model = ConsoleTableModel.From(report, allTables, unicode);
        foreach (var scenario in model.Scenarios)
        {
            Write(console, scenario.Heading);
            if (scenario.Table is not { } steps) continue;
            var table = new Table().Border(unicode ? TableBorder.Rounded : TableBorder.Ascii);
            foreach (var column in steps.Columns)
            {
                var added = new TableColumn(column.Header);
                table.AddColumn(column.Alignment switch
                {
                    ColumnAlignment.Right => added.RightAligned(),
                    ColumnAlignment.Centre => added.Centered(),
                    _ => added,
                });
            }
            foreach (var row in steps.Rows)
                table.AddRow(row.Cells.Select(cell => new Text(cell.Text, StyleOf(cell.Style))));
            console.Write(table);
            foreach (var note in scenario.Notes) Write(console, note);
            console.WriteLine();
        }
        foreach (var span in model.Summary.Spans) console.Write(new Text(span.Text, StyleOf(span.Style)));
        console.WriteLine();
    }

    private static void Write(IAnsiConsole console, ConsoleLine line)
    {
        var paragraph = new Paragraph();
        foreach (var span in line.Spans) paragraph.Append(span.Text, StyleOf(span.Style));
        console.Write(paragraph);
        console.WriteLine();
    }

    private static Style StyleOf(ConsoleStyle style) => style switch
    {
        ConsoleStyle.Emphasis => new Style(decoration: Decoration.Bold),
        ConsoleStyle.Muted => new Style(decoration: Decoration.Dim),
        ConsoleStyle.Success => new Style(Color.Green),
        ConsoleStyle.Failure => new Style(Color.Red),
        ConsoleStyle.StrongSuccess => new Style(Color.Green, decoration: Decoration.Bold),
        ConsoleStyle.StrongFailure => new Style(Color.Red, decoration: Decoration.Bold),
        ConsoleStyle.Warning => new Style(Color.Yellow),
        _ => Style.Plain,
    };
}
