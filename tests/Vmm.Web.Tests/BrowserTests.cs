using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using Vmm.Tests.Infrastructure;

namespace Vmm.Web.Tests;

/// <summary>
/// The app on a real Kestrel port on 127.0.0.1, driven by Debian's headless Chromium through Playwright. Each test
/// writes a screenshot of its page under screenshots/ in the test output folder.
/// </summary>
public sealed class BrowserTests : IClassFixture<BrowserTests.Browser>
{
    public const string Chromium = "/usr/bin/chromium";

    public sealed class Browser : IAsyncLifetime
    {
        private readonly ScratchDirectory _scratch = new();
        private WebApplication? _app;
        private IPlaywright? _playwright;

        public string Address { get; private set; } = "";

        public IBrowser Chromium { get; private set; } = null!;

        public static string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

        public async Task InitializeAsync()
        {
            if (!File.Exists(BrowserTests.Chromium))
                throw new InvalidOperationException($"the browser tests drive Debian's Chromium at {BrowserTests.Chromium}; install it with: apt-get install -y chromium (.ci/run does)");
            Directory.CreateDirectory(Screenshots);
            _app = VmmWeb.Build(["--urls", "http://127.0.0.1:0", "--Vmm:Store=" + Path.Combine(_scratch.Path, "runs.db")])
                ?? throw new InvalidOperationException("the app refused to start on 127.0.0.1");
            await _app.StartAsync();
            Address = _app.Urls.Single().TrimEnd('/');
            _playwright = await Playwright.CreateAsync();
            Chromium = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = BrowserTests.Chromium,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
        }

        public async Task<IPage> Open(string path, int width = 1280, int height = 900)
        {
            var context = await Chromium.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height }, BaseURL = Address });
            var page = await context.NewPageAsync();
            var response = await page.GotoAsync(path);
            Assert.Equal(200, response!.Status);
            return page;
        }

        public async Task DisposeAsync()
        {
            if (Chromium is not null) await Chromium.DisposeAsync();
            _playwright?.Dispose();
            if (_app is not null) await _app.DisposeAsync();
            _scratch.Dispose();
        }
    }

    private readonly Browser _browser;

    public BrowserTests(Browser browser) => _browser = browser;

    private static Task<byte[]> Screenshot(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.Screenshots, name + ".png"), FullPage = true });

    [Fact]
    public async Task Components_ShowsEveryKindWithItsOptions()
    {
        var page = await _browser.Open("/");

        await Assertions.Expect(page.Locator("[data-component='policy/hwpoison-v2']")).ToContainTextAsync("hwpoison.trackReason");
        Assert.True(await page.Locator("section.kind h2").CountAsync() >= 5);
        await Screenshot(page, "components");
    }

    [Fact]
    public async Task Run_LoadedScenarioWithAWrongExpectation_HighlightsTheFailingStep()
    {
        var page = await _browser.Open("/run");
        await page.SelectOptionAsync("#start", "examples/tdx-kernel-read-sees-zeros.json");
        await page.ClickAsync("#load");
        var text = await page.InputValueAsync("#Text");
        Assert.Contains("0x00000000", text, StringComparison.Ordinal);

        await page.FillAsync("#Text", text.Replace("0x00000000", "0x5555aaaa", StringComparison.Ordinal));
        await page.ClickAsync("#submit");

        var failed = page.Locator("#steps tr.step-failed");
        await Assertions.Expect(failed).ToHaveCountAsync(1);
        await Assertions.Expect(failed).ToContainTextAsync("kernel.read");
        await Assertions.Expect(page.Locator("#steps tbody tr")).ToHaveCountAsync(3);
        var background = await failed.Locator("td").First.EvaluateAsync<string>("td => getComputedStyle(td).backgroundColor");
        var passedBackground = await page.Locator("#steps tr.step-passed td").First.EvaluateAsync<string>("td => getComputedStyle(td).backgroundColor");
        Assert.NotEqual(passedBackground, background);
        await Assertions.Expect(page.Locator("#summary")).ToContainTextAsync("1 failed");
        await Screenshot(page, "run");
    }

    [Fact]
    public async Task Run_BrokenScenario_ShowsTheErrorAtItsLineAndColumn()
    {
        var page = await _browser.Open("/run");

        await page.FillAsync("#Text", "{\n  \"name\": \"broken\",\n  \"vms\": 7\n}");
        await page.ClickAsync("#validate");

        await Assertions.Expect(page.Locator("#diagnostic")).ToContainTextAsync("line 3, column 10");
        await Assertions.Expect(page.Locator("#diagnostic pre.context")).ToContainTextAsync("\"vms\": 7");
        await Screenshot(page, "run-error");
    }

    [Fact]
    public async Task MemoryMap_MovingTheSlider_ChangesACellsColour()
    {
        var page = await _browser.Open("/memory?start=web/memory-map-tour.json");
        await Assertions.Expect(page.Locator("#memory-map")).ToBeVisibleAsync();

        // The first cell whose state differs between the first and the last frame, read from the page's own data.
        var change = await page.EvaluateAsync<int[]>("""
            () => {
              const map = JSON.parse(document.getElementById('map-data').textContent);
              const first = map.frames[0][0];
              for (let f = 1; f < map.frames.length; f++)
                for (let i = 0; i < first.length; i++)
                  if (map.frames[f][0][i] !== first[i]) return [i, f];
              return [-1, -1];
            }
            """);
        var (cell, frame) = (change[0], change[1]);
        Assert.True(cell >= 0, "no cell changes in this scenario");
        var target = page.Locator(".cells[data-vm='0'] .cell").Nth(cell);
        var before = await target.EvaluateAsync<string>("c => getComputedStyle(c).backgroundColor");

        await page.Locator("#step-slider").FillAsync(frame.ToString(System.Globalization.CultureInfo.InvariantCulture));

        var after = await target.EvaluateAsync<string>("c => getComputedStyle(c).backgroundColor");
        Assert.NotEqual(before, after);
        await Assertions.Expect(page.Locator("#step-label")).ToContainTextAsync($"after step {frame - 1}");

        // After the memory error (step 5) one page of vm2 is poisoned; the others are split down to 4 KiB mappings.
        await page.Locator("#step-slider").FillAsync("6");
        await Assertions.Expect(page.Locator(".cells[data-vm='1'] .pg-poisoned")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator(".cells[data-vm='1'] .pg-shared")).ToHaveCountAsync(511);
        await Screenshot(page, "memory-map");
        await page.Locator("#memory-map").ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Browser.Screenshots, "memory-map-detail.png") });
    }

    [Fact]
    public async Task Compare_SmallComparison_ShowsItsTablesClaimsAndCharts()
    {
        var page = await _browser.Open("/compare");
        foreach (var box in await page.Locator("input[name=Stacks]").AllAsync())
            if (await box.GetAttributeAsync("value") is not ("tdx-ci+none" or "tdx-ci+hwpoison-v2" or "tdx-ci+guest-memfd")) await box.UncheckAsync();
        foreach (var box in await page.Locator("input[name=Workloads]").AllAsync())
            if (await box.GetAttributeAsync("value") is not ("malicious-vmm" or "memory-errors")) await box.UncheckAsync();

        await page.ClickAsync("#compare");

        await Assertions.Expect(page.Locator("#compare-summary")).ToContainTextAsync("2 workloads × 3 stacks", new() { Timeout = 30_000 });
        var table = page.Locator("[data-workload='malicious-vmm'] table.comparison");
        await Assertions.Expect(table.Locator("tbody tr")).ToHaveCountAsync(3);
        await Assertions.Expect(table).ToContainTextAsync("baseline");
        await Assertions.Expect(page.Locator("#claims tbody tr").First).ToBeVisibleAsync();
        foreach (var chart in await page.Locator("#charts img").AllAsync())
            Assert.True(await chart.EvaluateAsync<int>("img => img.decode().then(() => img.naturalWidth, () => 0)") > 0, "a chart did not load");
        Assert.Equal(2, await page.Locator("#charts img").CountAsync());
        await Screenshot(page, "compare");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Browser.Screenshots, "compare-top.png"), Clip = new Clip { X = 0, Y = 0, Width = 1280, Height = 1250 } });
    }

    [Fact]
    public async Task History_TwoStoredComparisons_ShowsTheirDiff()
    {
        using var client = new HttpClient { BaseAddress = new Uri(_browser.Address) };
        foreach (var seed in new[] { 1, 2 })
            (await client.PostAsJsonAsync("/api/compare", new { stacks = new[] { "tdx-ci+none", "tdx-ci+hwpoison-v2" }, workloads = new[] { "memory-errors" }, seed })).EnsureSuccessStatusCode();
        var page = await _browser.Open("/history");

        Assert.True(await page.Locator("#runs tbody tr").CountAsync() >= 2);
        await page.ClickAsync("#diff");

        await Assertions.Expect(page.Locator("#changes h2")).ToContainTextAsync("against run");
        await Screenshot(page, "history");
    }
}
