using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Vmm.Abstractions;
using Vmm.Hosting;

namespace Vmm.Web.Pages;

public sealed class CompareModel(Engine engine, CompareJobs jobs) : PageModel
{
    [BindProperty]
    public List<string> Stacks { get; set; } = [];

    [BindProperty]
    public List<string> Workloads { get; set; } = [];

    [BindProperty]
    public string? Baseline { get; set; }

    [BindProperty]
    public int Seed { get; set; } = 1;

    [BindProperty]
    public int Repeat { get; set; } = 1;

    public Comparison Defaults { get; private set; } = null!;

    public IReadOnlyList<ComponentInfo> WorkloadInfo { get; private set; } = [];

    public string? Error { get; private set; }

    public void OnGet() => Load();

    public IActionResult OnPost()
    {
        Load();
        try
        {
            var job = jobs.Start(engine.Comparison(Stacks, Workloads, Baseline, Seed, Repeat));
            return Redirect($"/compare/jobs/{job.Id}");
        }
        catch (Exception e) when (ErrorPages.ProblemOf(e) is { Status: < 500 } problem)
        {
            Error = problem.Message;
            return Page();
        }
    }

    private void Load()
    {
        var runner = new ComparisonRunner(engine.Host);
        Defaults = runner.Default();
        WorkloadInfo = runner.Workloads;
    }
}
