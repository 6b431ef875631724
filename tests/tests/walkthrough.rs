//! A shop's first hour, scripted: four people on four nodes — a print shop (`fabrik-nord`, PLA),
//! a second shop (`druckwerk`, PETG), a designer (`ada-designs`) and a customer (`bea`) — go
//! through the three use cases with the CLI's words (never `--json`) and the console in a real
//! terminal, and the test reads what they would read: names beside ids, durations, reasons and
//! declines; and nothing that waits for a person does so without an alert saying what to do.
//! (Waiting for a stage uses the JSON views: that is the test's clock, not what it checks.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use amsp_tests::binaries::binary;
use amsp_tests::fixtures_dir;
use amsp_tests::node_process::{NodeProcess, wait_for};
use amsp_tests::order_flow::{
    CENTRE_PLA, SimPrinter, alerted, licensed_cube, prepare, prepare_skilled, refused, said,
    wait_stage,
};
use amsp_tests::terminal::Terminal;

const CENTRE_PETG: &str = r#"
per_hour = 2.0
setup = 3.0
advertise_every_s = 2
batch_window_ms = 1500
[per_gram]
petg = 0.05
"#;

/// How long the screen may take to show what a step changed.
const SCREEN: Duration = Duration::from_secs(20);

struct Shop {
    _tmp: tempfile::TempDir,
    fabrik: NodeProcess,
    druckwerk: NodeProcess,
    ada: NodeProcess,
    bea: NodeProcess,
}

async fn shop() -> Shop {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n);
    prepare(&p("fabrik-nord"), &["centre"], Some(CENTRE_PLA), &[SimPrinter::fast("mk3s-a", "pla")]);
    prepare(&p("druckwerk"), &["centre"], Some(CENTRE_PETG), &[SimPrinter::fast("voron", "petg")]);
    prepare_skilled(&p("ada-designs"), &["designer"], &["mechanical"], None, &[]);
    prepare(&p("bea"), &["user"], None, &[]);
    let fabrik = NodeProcess::start(&p("fabrik-nord"), &[]).await;
    let f = fabrik.addr().await;
    let druckwerk = NodeProcess::start(&p("druckwerk"), std::slice::from_ref(&f)).await;
    let ada = NodeProcess::start(&p("ada-designs"), std::slice::from_ref(&f)).await;
    let (d, a) = (druckwerk.addr().await, ada.addr().await);
    let bea = NodeProcess::start(&p("bea"), &[f, d, a]).await;
    for n in [&fabrik, &druckwerk, &ada, &bea] {
        wait_for("a connected shop floor", Duration::from_secs(15), || async {
            n.connected().await.len() >= 3
        })
        .await;
    }
    wait_for("both shops' capacity at the customer", Duration::from_secs(15), || async {
        bea.client.capacity().await.map_or(0, |v| v.len()) == 2
    })
    .await;
    Shop { _tmp: tmp, fabrik, druckwerk, ada, bea }
}

/// `Name (peer id)`, the form people read a peer in.
fn who(node: &NodeProcess) -> String {
    let name = node.dir.file_name().unwrap().to_string_lossy().into_owned();
    format!("{name} ({})", node.peer_id)
}

/// `amsp console` on `node`'s data directory, in a terminal of its own.
fn console(node: &NodeProcess, name: &str) -> Terminal {
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let line = format!("{} --data-dir {} console", quote(&binary("amsp")), quote(&node.dir));
    match Terminal::open(name, &line) {
        Ok(t) => t,
        Err(why) => panic!("no terminal for the console: {why}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_people_run_the_three_use_cases_reading_names_durations_and_reasons() {
    let s = shop().await;
    let cube = fixtures_dir().join("models").join("20mm-xyz-cube.stl");
    let riser = fixtures_dir().join("models").join("idler_riser.STL");
    let (cube, riser) = (cube.to_str().unwrap(), riser.to_str().unwrap());

    // Use case 1. Bea orders two cubes in PLA: fabrik-nord quotes with the lead time in parts,
    // druckwerk (PETG only) declines and says why.
    let create = |material: &str, quantity: &str| {
        let args = [
            "order",
            "create",
            "--model",
            cube,
            "--name",
            "cube",
            "--material",
            material,
            "--quantity",
            quantity,
        ];
        said(&s.bea.amsp(&args)).trim().to_string()
    };
    let order = create("pla", "2");
    let quotes = said(&s.bea.amsp(&["order", "quotes", &order[..8], "--wait", "20"]));
    assert!(quotes.contains(&who(&s.fabrik)), "{quotes}");
    for part in ["lead ", "wait ", "print ", "handling "] {
        assert!(quotes.contains(part), "{part:?} missing from {quotes}");
    }
    let declined = format!("declined by {}: ", who(&s.druckwerk));
    wait_for("druckwerk's decline", Duration::from_secs(15), || async {
        said(&s.bea.amsp(&["order", "show", &order])).contains(&declined)
    })
    .await;
    let shown = said(&s.bea.amsp(&["order", "show", &order]));
    let line = shown.lines().find(|l| l.contains(&declined)).unwrap();
    assert!(line.contains("pla"), "the decline does not name the material: {line}");

    // An order nobody can make (ABS) says so in the listing of quotes and in an alert, which
    // goes once the order is called off.
    let abs = create("abs", "1");
    wait_for("the alert of an order nobody makes", Duration::from_secs(15), || {
        alerted(&s.bea, &abs, "no centre will make it as asked")
    })
    .await;
    let none = said(&s.bea.amsp(&["order", "quotes", &abs, "--wait", "1"]));
    assert!(none.starts_with("no quotes; "), "{none}");
    assert!(none.contains(&who(&s.fabrik)) && none.contains(&who(&s.druckwerk)), "{none}");
    said(&s.bea.amsp(&["order", "cancel", &abs, "--reason", "ABS was a typo"]));
    wait_for("the alert to go", Duration::from_secs(10), || async {
        !alerted(&s.bea, &abs, "no centre").await
    })
    .await;

    let placed = said(&s.bea.amsp(&["order", "place", &order, "--policy", "cheapest"]));
    assert!(!placed.trim().is_empty());
    wait_stage(&s.bea, &order, "printed", 60).await;
    let shown = said(&s.bea.amsp(&["order", "show", &order]));
    assert!(shown.contains(&format!("customer {}", who(&s.bea))), "{shown}");
    assert!(shown.contains(&format!("centre {}", who(&s.fabrik))), "{shown}");
    assert!(shown.contains(&format!("printed  {}", who(&s.fabrik))), "{shown}");

    // The shop's console: its printer by name, the job done, the order with its customer's
    // name and where it is.
    let shop_screen = console(&s.fabrik, "fabrik");
    shop_screen.wait_for(&["mk3s-a", "done"], SCREEN);
    shop_screen.press(&["3"]);
    shop_screen.wait_for(&["bea", "printed"], SCREEN);

    // The parts fail inspection: bea's console says so, with what to do, in the order's detail
    // and as an alert; bea has them made again from the console.
    let check = |scan: &str| {
        s.fabrik.amsp(&[
            "inspect",
            scan,
            cube,
            "--tolerance",
            "0.2",
            "--aligned",
            "--order",
            &order,
        ])
    };
    assert_eq!(check(riser).status.code(), Some(1), "the wrong part passed");
    wait_stage(&s.bea, &order, "failed", 10).await;
    let bea_screen = console(&s.bea, "bea");
    bea_screen.press(&["6"]);
    bea_screen.wait_for(&["failed inspection"], SCREEN);
    let tail = &order[order.len() - 8..];
    bea_screen.press(&["3", "/"]);
    bea_screen.press(&[tail, "Enter", "Enter"]);
    // The note wraps in the detail pane: its first words are enough. The order's row names its
    // customer, this node, as people know it.
    let screen = bea_screen.wait_for(&["R has it made", "(nothing is"], SCREEN);
    let row = screen.lines().find(|l| l.contains(&format!("│{tail} failed"))).unwrap();
    assert!(row.contains(" bea ") && row.contains(" fabrik-nor"), "{screen}");
    bea_screen.press(&["R"]);
    bea_screen.wait_for(&["Reprint order"], SCREEN);
    bea_screen.press(&["y"]);
    wait_stage(&s.bea, &order, "printed", 60).await;
    wait_for("the alert to go once chosen", Duration::from_secs(10), || async {
        !alerted(&s.bea, &order, "failed inspection").await
    })
    .await;
    assert!(check(cube).status.success(), "the right part failed");
    wait_stage(&s.bea, &order, "inspected", 10).await;
    said(&s.fabrik.amsp(&["order", "ship", &order, "--carrier", "DHL", "--tracking", "JD01"]));
    wait_stage(&s.bea, &order, "shipped", 10).await;
    said(&s.bea.amsp(&["order", "deliver", &order]));
    said(&s.bea.amsp(&["order", "review", &order, "--stars", "4", "--text", "second try"]));
    let shown = said(&s.bea.amsp(&["order", "show", &order]));
    assert!(shown.contains("inspection passed"), "{shown}");

    // Use case 2. Ada's licensed cube, one print: bea sees the licence with names and numbers,
    // and an order for more than it allows is refused with the numbers.
    let model = licensed_cube(&s.ada, &s.bea, 1).await;
    let licences = said(&s.bea.amsp(&["licence", "ls"]));
    assert!(licences.contains("licensed-cube.stl ("), "{licences}");
    assert!(licences.contains(&format!("from {}", who(&s.ada))), "{licences}");
    assert!(licences.contains("1 prints allowed, 0 used, 1 left"), "{licences}");
    let over =
        s.bea.amsp(&["order", "create", "--model", &model, "--material", "pla", "--quantity", "2"]);
    let why = refused(&over);
    assert!(why.contains("1 prints allowed, 0 made, 2 asked"), "{why}");
    let one = said(&s.bea.amsp(&["order", "create", "--model", &model, "--material", "pla"]));
    let one = one.trim();
    said(&s.bea.amsp(&["order", "quotes", one, "--wait", "20"]));
    said(&s.bea.amsp(&["order", "place", one, "--policy", "cheapest"]));
    wait_stage(&s.bea, one, "printed", 60).await;
    let licences = said(&s.bea.amsp(&["licence", "ls"]));
    assert!(licences.contains("1 prints allowed, 1 used, 0 left"), "{licences}");
    said(&s.fabrik.amsp(&["order", "ship", one, "--carrier", "DHL", "--tracking", "JD02"]));
    wait_stage(&s.bea, one, "shipped", 10).await;
    said(&s.bea.amsp(&["order", "deliver", one]));
    said(&s.bea.amsp(&["order", "review", one, "--stars", "5"]));

    // Use case 3. Bea asks for a design; Ada reads who asked, offers, and bea reads the offer
    // with Ada's name and the delivery time as a duration.
    let request = said(&s.bea.amsp(&[
        "design",
        "request",
        "--title",
        "Shelf bracket",
        "--description",
        "An L-bracket for a 300 mm shelf",
        "--skill",
        "Mechanical",
        "--budget",
        "60",
        "--deadline-days",
        "7",
    ]));
    let request = request.trim();
    wait_for("the request at the designer", Duration::from_secs(15), || async {
        said(&s.ada.amsp(&["design", "requests"])).contains(request)
    })
    .await;
    let requests = said(&s.ada.amsp(&["design", "requests"]));
    assert!(requests.contains(&format!("Shelf bracket  from {}", who(&s.bea))), "{requests}");
    // Ada's console lists the request by its title and who asked, by name; she offers from
    // the palette, and the dialog names the price, the time, the request and who asked.
    let ada_screen = console(&s.ada, "ada");
    ada_screen.press(&["8"]);
    ada_screen.wait_for(&["Shelf bracket", "bea", "60.00 EUR", "open, no offers yet"], SCREEN);
    ada_screen.press(&[":"]);
    ada_screen.press(&["offer 45 3 two revisions included", "Enter"]);
    ada_screen.wait_for(&["45.00 EUR in 3d00h on Shelf bracket for bea"], SCREEN);
    ada_screen.press(&["y"]);
    ada_screen.wait_for(&["Shelf bracket", "open, 1 offer"], SCREEN);
    wait_for("the offer at the customer", Duration::from_secs(15), || async {
        said(&s.bea.amsp(&["design", "offers", request])).contains(&who(&s.ada))
    })
    .await;
    let offers = said(&s.bea.amsp(&["design", "offers", request]));
    assert!(offers.contains("delivered in 3d00h"), "{offers}");
    assert!(offers.contains("two revisions included"), "{offers}");
    // Bea accepts in her console: her own request with its one offer; the dialog names the
    // designer, the price and the time before anything is sent; then who designs it.
    bea_screen.press(&["8"]);
    bea_screen.wait_for(&["Shelf bracket", " you ", "open, 1 offer"], SCREEN);
    bea_screen.press(&["a"]);
    bea_screen.wait_for(&["ada-designs's offer on", "45.00 EUR in 3d00h"], SCREEN);
    bea_screen.press(&["y"]);
    bea_screen.wait_for(&["Shelf bracket", " you ", "ada-designs designs it"], SCREEN);
    // Ada delivers from her console: the palette names the file and the licence, and Bea's
    // console shows the design delivered for review.
    ada_screen.wait_for(&["Shelf bracket", "ada-designs designs it"], SCREEN);
    ada_screen.press(&[":"]);
    ada_screen.press(&[&format!("deliver {cube} 5"), "Enter"]);
    ada_screen.wait_for(&["Deliver 20mm-xyz-cube.stl on Shelf", "(5 prints)?"], SCREEN);
    ada_screen.press(&["y"]);
    bea_screen.wait_for(&["Shelf bracket", " you ", "delivered: review"], SCREEN);
    said(&s.bea.amsp(&["design", "message", request, "--text", "M4 countersinks, please"]));
    wait_for("the message at the designer", Duration::from_secs(15), || async {
        said(&s.ada.amsp(&["design", "messages", request])).contains("M4 countersinks")
    })
    .await;
    let messages = said(&s.ada.amsp(&["design", "messages", request]));
    assert!(messages.contains(&format!("ago  {}: M4 countersinks", who(&s.bea))), "{messages}");

    // Nothing is left waiting: every order of bea's is over, and no alert waits for an answer.
    let orders = said(&s.bea.amsp(&["order", "ls"]));
    for line in orders.lines() {
        assert!(line.contains("reviewed") || line.contains("cancelled"), "{orders}");
    }
    // (Alerts about the machine itself, such as a filling disk, are not answers awaited.)
    let ids: Vec<&str> = orders.lines().filter_map(|l| l.split_whitespace().next()).collect();
    let waiting: Vec<String> = s
        .bea
        .client
        .alerts()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.is_active() && ids.contains(&a.subject.as_str()))
        .map(|a| a.message)
        .collect();
    assert!(waiting.is_empty(), "{waiting:?}");
    drop((shop_screen, bea_screen, ada_screen));
}
