using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Vmm.Hosting;

namespace Vmm.Web.Pages;

public sealed class CompareJobModel(CompareJobs jobs) : PageModel
{
    public CompareJob Job { get; private set; } = null!;

    public IReadOnlyList<ComparisonTable> Tables { get; private set; } = [];

    public IReadOnlyList<BarChart> Charts { get; private set; } = [];

    public void OnGet(string id)
    {
        Job = jobs.Find(id) ?? throw WebProblemException.NotFound($"no comparison \"{id}\" (this server keeps the last {CompareJobs.Kept}); start one on the compare page");
        if (Job.Report is { } report)
        {
            Tables = ComparisonTables.From(report);
            Charts = ComparisonCharts.From(report);
        }
    }

    /// <summary>The finished report as vmm compare --export writes it (md, csv or json).</summary>
    public IActionResult OnGetExport(string id, string format)
    {
        var report = (jobs.Find(id) ?? throw WebProblemException.NotFound($"no comparison \"{id}\"")).Report ?? throw WebProblemException.NotFound("the comparison has not finished");
        var exporter = ComparisonExporters.Find(format) ?? throw WebProblemException.NotFound($"no export \"{format}\"; the exports are: {ComparisonExporters.Names}");
        using var text = new StringWriter();
        exporter.Export(report, text);
        var type = format switch { "json" => "application/json", "csv" => "text/csv", _ => "text/markdown" };
        return File(System.Text.Encoding.UTF8.GetBytes(text.ToString()), type + "; charset=utf-8", $"comparison.{exporter.FileExtension}");
    }
}
