using System.Globalization;
using System.Text;

namespace Vmm.Hosting.Exporters;

/// <summary>
/// A run as GitHub-flavoured Markdown: a section per scenario with its table of steps (#, op, expected, actual, pass),
/// then the bad input, the time-outs and the internal errors when there are any, and the summary line last.
/// </summary>
public sealed class MarkdownExporter : IRunExporter
{
    public static readonly MarkdownExporter Default = new();

    private const string PassMark = "✓";
    private const string FailMark = "✗";

    public string Name => "md";

    public string FileExtension => "md";

    public void Export(RunReport report, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        text.Append("# vmm run\n");
        foreach (var scenario in report.Scenarios)
        {
            text.Append('\n')
                .Append(CultureInfo.InvariantCulture, $"## {(scenario.Passed ? PassMark : FailMark)} {Escape(scenario.Name)}\n")
                .Append('\n')
                .Append(CultureInfo.InvariantCulture, $"{Code(scenario.File)}: {Escape(scenario.Setup)}\n")
                .Append('\n')
                .Append("| # | op | expected | actual | pass |\n")
                .Append("|--:|----|----------|--------|:----:|\n");
            foreach (var step in scenario.Steps)
            {
                text.Append(CultureInfo.InvariantCulture,
                    $"| {step.Index} | {Escape(step.Op)} | {Escape(step.ExpectedText ?? "-")} | {Escape(step.ActualText)} | {(step.Passed ? PassMark : FailMark)} |\n");
            }
            if (scenario.Warnings.Count > 0)
            {
                text.Append('\n');
                foreach (var warning in scenario.Warnings) text.Append(CultureInfo.InvariantCulture, $"- warning: {Escape(warning)}\n");
            }
        }
        List("Invalid", report.Errors.Select(e => $"{Code(e.Location)}: {Escape(e.Message)}"), text);
        List("Timed out", report.TimedOut.Select(t => Escape(t.Message)), text);
        List("Internal errors", report.InternalErrors.Select(e => $"{Code(e.File)}: {Escape(FirstLine(e.Details))}"), text);
        text.Append('\n').Append(CultureInfo.InvariantCulture, $"**{report.Tally}**\n");
        output.Write(text.ToString());
    }

    private static void List(string heading, IEnumerable<string> items, StringBuilder text)
    {
        var first = true;
        foreach (var item in items)
        {
            if (first) text.Append('\n').Append(CultureInfo.InvariantCulture, $"## {heading}\n").Append('\n');
            first = false;
            text.Append("- ").Append(item).Append('\n');
        }
    }

    /// <summary>Text from files and plugins, made inert: Markdown punctuation escaped, line breaks as spaces (a table row is one line).</summary>
    internal static string Escape(string text)
    {
        var escaped = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c is '\r' or '\n') escaped.Append(' ');
            else if (c is '\\' or '`' or '*' or '_' or '[' or ']' or '<' or '>' or '|' or '#' or '~') escaped.Append('\\').Append(c);
            else escaped.Append(c);
        }
        return escaped.ToString();
    }

    /// <summary>A code span long enough not to end at a backtick inside <paramref name="text"/>.</summary>
    private static string Code(string text)
    {
        text = text.Replace('\r', ' ').Replace('\n', ' ');
        var fence = new string('`', LongestRun(text, '`') + 1);
        var pad = text.StartsWith('`') || text.EndsWith('`') ? " " : "";
        return $"{fence}{pad}{text}{pad}{fence}";
    }

    private static int LongestRun(string text, char c)
    {
        int longest = 0, run = 0;
        foreach (var x in text)
        {
            run = x == c ? run + 1 : 0;
            longest = Math.Max(longest, run);
        }
        return longest;
    }

    private static string FirstLine(string text)
    {
        var newline = text.IndexOfAny(['\r', '\n']);
        return newline < 0 ? text : text[..newline];
    }
}
