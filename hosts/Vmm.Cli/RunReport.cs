using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;
using Vmm.Abstractions;
using Vmm.Core.Engine;
using Vmm.Core.Scenarios;

namespace Vmm.Cli;

/// <summary>How <c>vmm run</c> shows results: a table of steps per scenario and a summary line, or one JSON document.</summary>
internal static class RunReport
{
    public static void WriteTables(IAnsiConsole console, IReadOnlyList<ScenarioResult> results, int notFinished, bool allTables = true)
    {
        var unicode = console.Profile.Capabilities.Unicode;
        var passMark = unicode ? "✓" : "ok";
        var failMark = unicode ? "✗" : "FAIL";
        foreach (var result in results)
        {
            var colour = result.Passed ? "green" : "red";
            console.MarkupLine($"[bold {colour}]{(result.Passed ? passMark : failMark)}[/] [bold]{Markup.Escape(result.Name)}[/] [dim]({Markup.Escape(result.File)}; {Markup.Escape(Components(result))})[/]");
            if (result.Passed && !allTables) continue;
            var table = new Table().Border(unicode ? TableBorder.Rounded : TableBorder.Ascii);
            table.AddColumn(new TableColumn("#").RightAligned());
            table.AddColumn("op");
            table.AddColumn("expected");
            table.AddColumn("actual");
            table.AddColumn(new TableColumn("").Centered());
            foreach (var step in result.Steps)
            {
                var style = step.Passed ? "" : "red";
                table.AddRow(
                    Cell(step.Index.ToString(CultureInfo.InvariantCulture), style),
                    Cell(step.Op, style),
                    Cell(step.Expected is null ? "-" : OutcomeText.Describe(step.Expected), style),
                    Cell(DescribeActual(step), style),
                    Cell(step.Passed ? passMark : failMark, step.Passed ? "green" : "bold red"));
            }
            console.Write(table);
            foreach (var warning in result.Warnings)
                console.MarkupLine($"  [yellow]warning:[/] {Markup.Escape(warning)}");
            console.WriteLine();
        }

        var passed = results.Count(r => r.Passed);
        var failed = results.Count - passed;
        var summary = $"{results.Count + notFinished} scenarios, {passed} passed, {failed} failed" + (notFinished > 0 ? $", {notFinished} stopped by an error" : "");
        console.MarkupLine(failed == 0 && notFinished == 0 ? $"[green]{summary}[/]" : $"[red]{summary}[/]");
    }

    public static void WriteJson(TextWriter output, IReadOnlyList<ScenarioResult> results, IReadOnlyList<ScenarioException> errors)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("scenarios");
            foreach (var result in results) WriteScenario(writer, result);
            writer.WriteEndArray();
            if (errors.Count > 0)
            {
                writer.WriteStartArray("errors");
                foreach (var error in errors)
                {
                    writer.WriteStartObject();
                    writer.WriteString("file", error.Location.File);
                    writer.WriteNumber("line", error.Location.Line);
                    writer.WriteNumber("column", error.Location.Column);
                    writer.WriteString("message", error.Message);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
    }

    private static void WriteScenario(Utf8JsonWriter writer, ScenarioResult result)
    {
        writer.WriteStartObject();
        writer.WriteString("file", result.File);
        writer.WriteString("name", result.Name);
        writer.WriteBoolean("passed", result.Passed);
        writer.WriteStartArray("steps");
        foreach (var step in result.Steps)
        {
            writer.WriteStartObject();
            writer.WriteNumber("index", step.Index);
            writer.WriteString("op", step.Op);
            writer.WritePropertyName("expected");
            if (step.Expected is null) writer.WriteNullValue();
            else step.Expected.Json.WriteTo(writer);
            writer.WritePropertyName("actual");
            OutcomeJson.Write(writer, step.Actual);
            writer.WriteBoolean("passed", step.Passed);
            if (step.Actual.Reason is { } reason) writer.WriteString("reason", reason);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteString("kernel", result.Kernel.ToString());
        writer.WriteStartObject("components");
        foreach (var (kind, name) in result.Components.OrderBy(c => c.Key)) writer.WriteString(kind.Key(), name);
        writer.WriteEndObject();
        writer.WriteStartArray("warnings");
        foreach (var warning in result.Warnings) writer.WriteStringValue(warning);
        writer.WriteEndArray();
        writer.WriteStartObject("costs");
        writer.WriteNumber("modelledNs", result.ModelledNanoseconds);
        writer.WriteStartObject("counts");
        foreach (var (kind, count) in result.Costs) writer.WriteNumber(kind, count);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The actual outcome; for `state`, only the fields the expectation names (all of them in --json).</summary>
    private static string DescribeActual(StepResult step)
    {
        if (step.Actual.Kind != OutcomeKind.State || step.Expected?.State is not { } named || step.Actual.State is not { } state)
            return OutcomeText.Describe(step.Actual);
        var shown = state.Where(p => named.Keys.Contains(p.Key, StringComparer.OrdinalIgnoreCase)).ToDictionary(p => p.Key, p => p.Value);
        return OutcomeText.Describe(Outcome.Inspected(shown));
    }

    private static string Components(ScenarioResult result) =>
        string.Join(", ", result.Components.OrderBy(c => c.Key).Select(c => $"{c.Key.Key()} {c.Value}")) + $", kernel {result.Kernel}";

    private static Markup Cell(string text, string style) =>
        new(style.Length == 0 ? Markup.Escape(text) : $"[{style}]{Markup.Escape(text)}[/]");
}
