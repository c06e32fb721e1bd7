using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Vmm.Hosting;

namespace Vmm.Web.Pages;

/// <summary>
/// What the run and memory-map pages share: a scenario pasted into <see cref="Text"/>, uploaded as <see cref="Upload"/>,
/// or loaded by name (<see cref="Start"/>) from the server's list; then validated, with the error at its line and column.
/// </summary>
public abstract class ScenarioPage(Engine engine) : PageModel
{
    protected Engine Engine { get; } = engine;

    [BindProperty]
    public string? Text { get; set; }

    [BindProperty]
    public IFormFile? Upload { get; set; }

    /// <summary>A name from <see cref="ScenarioLibrary.Names"/>; in the query on GET (load it), in the form on POST (its label).</summary>
    [BindProperty(SupportsGet = true)]
    public string? Start { get; set; }

    public IReadOnlyList<string> Starts => Engine.Library.Names;

    public ValidationResult? Validation { get; private set; }

    /// <summary>The line the error points at and the caret under its column, when it has one.</summary>
    public (string Line, string Caret)? ErrorContext { get; private set; }

    /// <summary>Fills <see cref="Text"/> from <see cref="Start"/> on GET; false (and a 404) when the name is not offered.</summary>
    protected bool LoadStart()
    {
        if (Start is not { Length: > 0 } start) return true;
        Text = Engine.Library.Read(start) ?? throw WebProblemException.NotFound($"no scenario \"{start}\" is offered; pick one from the list");
        return true;
    }

    /// <summary>Reads the posted scenario (the upload wins over the text box) and validates it.</summary>
    protected async Task<ValidationResult?> ValidatePosted()
    {
        var name = Start is { Length: > 0 } start && Engine.Library.Names.Contains(start) ? start : "pasted.json";
        if (Upload is { Length: > 0 } upload)
        {
            using var reader = new StreamReader(upload.OpenReadStream());
            Text = await reader.ReadToEndAsync(HttpContext.RequestAborted);
            name = Api.FileName(upload.FileName);
            Start = null;
        }
        if (string.IsNullOrWhiteSpace(Text))
        {
            ModelState.AddModelError(nameof(Text), "paste a scenario, upload a file, or load one from the list");
            return null;
        }
        Validation = Engine.Validate(Text, name);
        if (Validation.Error is { Line: > 0 } error)
        {
            var lines = Text.Split('\n');
            if (error.Line <= lines.Length)
            {
                var line = lines[error.Line - 1].TrimEnd('\r');
                ErrorContext = (line, new string(' ', (int)Math.Clamp(error.Column - 1, 0, line.Length)) + "^");
            }
        }
        return Validation;
    }
}
